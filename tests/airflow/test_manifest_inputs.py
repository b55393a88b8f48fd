"""The manifest's stamp sees paths that do not exist yet, and a DAG-file parse never hangs on hostile files.

Every parse of the dags file is a fresh process (as Airflow's parser is) with a timeout: a hang fails the test
instead of blocking the suite. The first parse of each project finds no manifest and compiles it in a
background process while it waits (parse.py); later ones only read it.
"""

from __future__ import annotations

import os

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, compile_manifest, make_airflow_env, parse_dags, snapshot_code

ALL_DAGS = ["acme__orders_rebuild_job", "acme_customers", "acme_orders_hourly", "globex_catalog_daily",
            "globex_events", "initech_invoices_nightly", "initech_tickets"]


@pytest.fixture
def env(tmp_path) -> AirflowEnv:
    env = make_airflow_env(tmp_path)
    snapshot_code(env)
    return env


def _dags(env: AirflowEnv, **extra: str) -> tuple[list[str], bool, list[str]]:
    """The DAG ids one parse serves, whether it reported them stale, and which are dativo:invalid placeholders."""
    dags, _ = parse_dags(env, **extra)
    return sorted(dags), any(d["stale"] for d in dags.values()), sorted(n for n, d in dags.items() if d["invalid"])


def test_creating_a_missing_contract_file_is_a_change(env):
    contract = env.project / "jobs/acme/contracts/orders.yaml"
    text = contract.read_text()
    contract.unlink()
    # both acme order jobs use that contract: placeholders for the schedule and the file only runner.jobs matches
    assert _dags(env) == (sorted([d for d in ALL_DAGS if d != "acme__orders_rebuild_job"] + ["orders_rebuild"]), False,
                          ["acme_orders_hourly", "orders_rebuild"])
    contract.write_text(text)
    assert f"created: {contract}" in compile_manifest(env, "--check", expect=1)
    compile_manifest(env)
    assert _dags(env) == (ALL_DAGS, False, [])


def test_creating_a_missing_job_file_is_a_change(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace("config: ../jobs/initech/tickets.yaml", "config: ../later/tickets.yaml"))
    manual = "initech__tickets_job"  # no schedule runs initech/tickets now: runner.jobs defines it for manual runs
    assert _dags(env) == (sorted(ALL_DAGS + [manual]), False, ["initech_tickets"])
    (env.project / "later").mkdir()  # outside the runner.jobs glob (../jobs/*/*.yaml): only the stamp sees it
    later = env.project / "later/tickets.yaml"
    later.write_text((env.project / "jobs/initech/tickets.yaml").read_text().replace("tenant_id: initech",
                                                                                     "tenant_id: later"))
    assert f"created: {later}" in compile_manifest(env, "--check", expect=1)
    compile_manifest(env)
    assert _dags(env) == (sorted(ALL_DAGS + [manual]), False, [])


def test_symlink_loops_under_a_recursive_jobs_glob_do_not_hang_the_parse(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace('jobs: ["../jobs/*/*.yaml"]', 'jobs: ["../jobs/**/*.yaml"]'))
    os.symlink("..", env.project / "jobs/acme/loop")
    os.symlink(str(env.project / "jobs"), env.project / "jobs/globex/data/again")
    # `**` also matches jobs/acme/contracts/orders.yaml, a contract file: not a job, so shown as a broken entry
    expected = (sorted(ALL_DAGS + ["orders"]), False, ["orders"])
    assert _dags(env) == expected
    assert _dags(env) == expected, "the stamp's walk is loop-safe too"


def test_a_job_file_replaced_by_a_fifo_does_not_block_the_parse(env):
    assert _dags(env) == (ALL_DAGS, False, [])  # the manifest exists; its stamp check now meets the FIFO
    tickets = env.project / "jobs/initech/tickets.yaml"
    tickets.unlink()
    os.mkfifo(tickets)
    assert _dags(env, DATIVO_AIRFLOW_AUTO_COMPILE="false") == (ALL_DAGS, True, []), "the last good DAGs, reported stale"
    compile_manifest(env)
    assert _dags(env) == (ALL_DAGS, False, ["initech_tickets"])


def test_editing_an_upstream_jobs_recipe_or_asset_file_is_a_change(env):
    """An upstream-format job is built from its connector recipes and asset file too: editing or removing one is a
    change of the manifest's inputs (the stamp saw only the job file before)."""
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
    assert _dags(env, **app_root) == (sorted(ALL_DAGS + ["up_people_daily"]), False, [])
    recipe = app / "connectors/csv.yaml"
    recipe.write_text(recipe.read_text().replace("chunk_size: 5000", "chunk_size: 2000"))
    assert str(recipe) in compile_manifest(env, "--check", expect=1, **app_root), "a recipe edit is a change"
    compile_manifest(env, **app_root)
    (app / "assets/people.yaml").unlink()
    assert str(app / "assets/people.yaml") in compile_manifest(env, "--check", expect=1, **app_root)
    compile_manifest(env, **app_root)
    # the broken entry stays visible as a paused dativo:invalid placeholder
    assert _dags(env, **app_root) == (sorted(ALL_DAGS + ["up_people_daily"]), False, ["up_people_daily"])
