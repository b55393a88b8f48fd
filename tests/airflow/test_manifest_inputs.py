"""The manifest fingerprint sees paths that do not exist yet, and a DAG-file parse never hangs on hostile files.

Every import of the dags file is a fresh process (as Airflow's parser is) with a timeout: a hang fails the test
instead of blocking the suite.
"""

from __future__ import annotations

import os

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, make_airflow_env, snapshot_code

IMPORT_DAGS = """
import json, sys
import airflow_bridge.dags as dags
print(json.dumps(dict(dagster_imported="dagster" in sys.modules, dags=sorted(dags.__all__),
                      invalid=sorted(d for d in dags.__all__ if "dativo:invalid" in getattr(dags, d).tags))))
"""
ALL_DAGS = ["acme__orders_rebuild_job", "acme_customers", "acme_orders_hourly", "globex_catalog_daily",
            "globex_events", "initech_invoices_nightly", "initech_tickets"]


@pytest.fixture
def env(tmp_path) -> AirflowEnv:
    env = make_airflow_env(tmp_path)
    snapshot_code(env)
    return env


def _import(env: AirflowEnv) -> dict:
    return env.json_from(IMPORT_DAGS, timeout=90)


def test_creating_a_missing_contract_file_rebuilds(env):
    contract = env.project / "jobs/acme/contracts/orders.yaml"
    text = contract.read_text()
    contract.unlink()
    first = _import(env)
    # both acme order jobs use that contract: placeholders for the schedule and the file only runner.jobs matches
    assert first["invalid"] == ["acme_orders_hourly", "orders_rebuild"]
    assert first["dags"] == sorted([d for d in ALL_DAGS if d != "acme__orders_rebuild_job"] + ["orders_rebuild"])
    assert not _import(env)["dagster_imported"], "unchanged inputs are served from the manifest"
    contract.write_text(text)
    created = _import(env)
    assert created["dagster_imported"] and created["dags"] == ALL_DAGS and created["invalid"] == []


def test_creating_a_missing_job_file_rebuilds(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace("config: ../jobs/initech/tickets.yaml", "config: ../later/tickets.yaml"))
    first = _import(env)
    manual = "initech__tickets_job"  # no schedule runs initech/tickets now: runner.jobs defines it for manual runs
    assert first["dags"] == sorted(ALL_DAGS + [manual]) and first["invalid"] == ["initech_tickets"]
    assert not _import(env)["dagster_imported"]
    (env.project / "later").mkdir()  # outside the runner.jobs glob (../jobs/*/*.yaml): only the fingerprint sees it
    (env.project / "later/tickets.yaml").write_text(
        (env.project / "jobs/initech/tickets.yaml").read_text().replace("tenant_id: initech", "tenant_id: later"))
    created = _import(env)
    assert created["dagster_imported"] and created["dags"] == sorted(ALL_DAGS + [manual]) and created["invalid"] == []


def test_symlink_loops_under_a_recursive_jobs_glob_do_not_hang_the_parse(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace('jobs: ["../jobs/*/*.yaml"]', 'jobs: ["../jobs/**/*.yaml"]'))
    os.symlink("..", env.project / "jobs/acme/loop")
    os.symlink(str(env.project / "jobs"), env.project / "jobs/globex/data/again")
    loaded = _import(env)
    # `**` also matches jobs/acme/contracts/orders.yaml, a contract file: not a job, so shown as a broken entry
    assert loaded["dags"] == sorted(ALL_DAGS + ["orders"]) and loaded["invalid"] == ["orders"], loaded
    assert not _import(env)["dagster_imported"], "the fingerprint walk is loop-safe too"


def test_a_job_file_replaced_by_a_fifo_does_not_block_the_parse(env):
    assert _import(env)["dags"] == ALL_DAGS  # the manifest exists; its fingerprint now meets the FIFO
    tickets = env.project / "jobs/initech/tickets.yaml"
    tickets.unlink()
    os.mkfifo(tickets)
    rebuilt = _import(env)
    assert rebuilt["dagster_imported"] and rebuilt["dags"] == ALL_DAGS and rebuilt["invalid"] == ["initech_tickets"]
    assert not _import(env)["dagster_imported"]


def test_editing_an_upstream_jobs_recipe_or_asset_file_rebuilds(env):
    """An upstream-format job is built from its connector recipes and asset file too: editing one, or removing
    one, rebuilds the manifest (the fingerprint saw only the job file before)."""
    from tests.upstream.project import job, upstream_project

    app = upstream_project(env.project / "app")
    job(app, "jobs/acme/people.yaml", """
        tenant_id: acme
        source_connector: csv
        source_connector_path: /app/connectors/csv.yaml
        target_connector: iceberg
        target_connector_path: /app/connectors/iceberg.yaml
        asset: people
        asset_path: /app/assets/people.yaml
        source: {files: [{path: data/people.csv, object: people}]}
        target: {warehouse: /app/lake}
    """)
    add_schedules(env, '- {name: up_people_daily, config: /app/jobs/acme/people.yaml, cron: "0 1 * * *"}')
    app_root = {"DATIVO_APP_ROOT": str(app)}
    built = env.json_from(IMPORT_DAGS, timeout=90, **app_root)
    assert built["dags"] == sorted(ALL_DAGS + ["up_people_daily"])
    assert not env.json_from(IMPORT_DAGS, timeout=90, **app_root)["dagster_imported"]
    recipe = app / "connectors/csv.yaml"
    recipe.write_text(recipe.read_text().replace("chunk_size: 5000", "chunk_size: 2000"))
    edited = env.json_from(IMPORT_DAGS, timeout=90, **app_root)
    assert edited["dagster_imported"], "a recipe edit must rebuild the manifest"
    (app / "assets/people.yaml").unlink()
    removed = env.json_from(IMPORT_DAGS, timeout=90, **app_root)
    assert removed["dagster_imported"], "an asset file removal must rebuild it"
    assert removed["dags"] == sorted(ALL_DAGS + ["up_people_daily"]) and removed["invalid"] == ["up_people_daily"], \
        "the broken entry stays visible as a paused dativo:invalid placeholder"
