"""The manifest cache: a DAG-file parse skips Dagster when nothing changed, and rebuilds when anything the DAGs
were built from changes (job file, a ${VAR} it references, the runner file). Every import is a fresh process."""

from __future__ import annotations

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, make_airflow_env, snapshot_code

IMPORT_DAGS = """
import json, sys
import airflow_bridge.dags as dags
from airflow_bridge.settings import manifest_path
assert dags.__file__.startswith(sys.argv[1]), dags.__file__

print(json.dumps(dict(
    dagster_imported="dagster" in sys.modules,
    manifest=str(manifest_path()),
    dags={name: dict(tasks={t.task_id: t.retries for t in getattr(dags, name).tasks},
                     paused=getattr(dags, name).is_paused_upon_creation) for name in dags.__all__},
)))
"""


@pytest.fixture
def env(tmp_path) -> AirflowEnv:
    env = make_airflow_env(tmp_path)
    snapshot_code(env)
    return env


def _import(env: AirflowEnv, **extra: str) -> dict:
    return env.json_from(IMPORT_DAGS, str(env.code_snapshot), **extra)


def test_cache_skips_dagster_when_nothing_changed(env):
    first = _import(env)
    assert first["dagster_imported"], "the first parse builds the manifest from the Dagster definitions"
    assert len(first["dags"]) == 7  # 6 schedules and the manual DAG of the unscheduled job
    assert first["manifest"].startswith(str(env.dativo_home / "airflow"))
    second = _import(env)
    assert not second["dagster_imported"], "an unchanged project must be served from the manifest"
    assert second["dags"] == first["dags"]
    # An environment variable no config file references does not invalidate the manifest.
    assert not _import(env, SOME_UNRELATED_VARIABLE="x")["dagster_imported"]


def test_job_file_change_rebuilds(env):
    assert _import(env)["dags"]["acme_orders_hourly"]["tasks"] == {"acme__orders": 2}
    job = env.project / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace("max_retries: 2", "max_retries: 4"))
    changed = _import(env)
    assert changed["dagster_imported"]
    assert changed["dags"]["acme_orders_hourly"]["tasks"] == {"acme__orders": 4}
    assert not _import(env)["dagster_imported"]


def test_referenced_variable_change_rebuilds(env):
    job = env.project / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace("max_retries: 2", 'max_retries: "${DATIVO_TEST_RETRIES:-2}"'))
    assert _import(env, DATIVO_TEST_RETRIES="1")["dags"]["acme_orders_hourly"]["tasks"] == {"acme__orders": 1}
    assert not _import(env, DATIVO_TEST_RETRIES="1")["dagster_imported"]
    changed = _import(env, DATIVO_TEST_RETRIES="5")
    assert changed["dagster_imported"]
    assert changed["dags"]["acme_orders_hourly"]["tasks"] == {"acme__orders": 5}
    unset = _import(env)  # unset: the default applies, and unset is a change too
    assert unset["dagster_imported"] and unset["dags"]["acme_orders_hourly"]["tasks"] == {"acme__orders": 2}


def test_runner_file_change_rebuilds(env):
    assert "acme_orders_nightly" not in _import(env)["dags"]
    add_schedules(env, """
        - name: acme_orders_nightly
          config: ../jobs/acme/orders.yaml
          cron: "0 1 * * *"
          orchestrator: airflow
    """)
    changed = _import(env)
    assert changed["dagster_imported"]
    assert changed["dags"]["acme_orders_nightly"] == {"tasks": {"acme__orders": 2}, "paused": False}
    assert len(changed["dags"]) == 8


def test_contract_file_change_rebuilds(env):
    _import(env)
    contract = env.project / "jobs/acme/contracts/orders.yaml"
    contract.write_text(contract.read_text().replace('version: "1.0"', 'version: "1.1"'))
    assert _import(env)["dagster_imported"]


def test_unreadable_manifest_is_rebuilt(env):
    manifest = _import(env)["manifest"]
    with open(manifest, "w") as handle:
        handle.write("{not json")
    again = _import(env)
    assert again["dagster_imported"] and len(again["dags"]) == 7
    assert not _import(env)["dagster_imported"]


def test_a_new_job_file_matching_the_runner_jobs_pattern_rebuilds(env):
    """`runner.jobs: ["../jobs/*/*.yaml"]`: a job file added later must appear without touching the runner."""
    assert "initech__refunds_job" not in _import(env)["dags"]
    tickets = env.project / "jobs/initech/tickets.yaml"
    (env.project / "jobs/initech/refunds.yaml").write_text(tickets.read_text())
    changed = _import(env)
    assert changed["dagster_imported"]
    assert changed["dags"]["initech__refunds_job"] == {"tasks": {"initech__refunds": 0}, "paused": False}
    assert not _import(env)["dagster_imported"]
    (env.project / "jobs/initech/refunds.yaml").unlink()
    removed = _import(env)
    assert removed["dagster_imported"] and "initech__refunds_job" not in removed["dags"]
