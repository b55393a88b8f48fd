"""Airflow's own DagBag loads the one-line dags file: one DAG per Dagster schedule/sensor, attribute for attribute
what the Dagster definitions say (the DagBag runs in a subprocess with an isolated AIRFLOW_HOME)."""

from __future__ import annotations

import pytest
from dagster import DefaultScheduleStatus, DefaultSensorStatus

from dativo_defs import tags
from dativo_defs.config.loader import load_project
from dativo_defs.contract import op_contract, trigger_contract
from dativo_defs.definitions import build_definitions
from tests.airflow.helpers import DAGBAG_SUMMARY, AirflowEnv, add_schedules, make_airflow_env

EXAMPLE_DAGS = {"acme_orders_hourly", "acme_customers", "globex_events", "globex_catalog_daily", "initech_tickets",
                "initech_invoices_nightly"}
MANUAL_DAGS = {"acme__orders_rebuild_job"}  # the Dagster asset job of the one job no schedule names


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[AirflowEnv, dict]:
    env = make_airflow_env(tmp_path_factory.mktemp("dagbag"))
    return env, env.json_from(DAGBAG_SUMMARY)


@pytest.fixture
def defs(loaded, monkeypatch):
    """The Dagster definitions of the same project, built in this process (no Airflow here)."""
    env, _ = loaded
    monkeypatch.setenv("DATIVO_RUNNER_CONFIG", str(env.runner))
    monkeypatch.setenv("DATIVO_HOME", str(env.dativo_home))
    return build_definitions(load_project(env.runner))


def test_dags_file_loads_without_errors(loaded):
    env, summary = loaded
    assert summary["import_errors"] == {}
    assert set(summary["dags"]) == EXAMPLE_DAGS | MANUAL_DAGS
    for dag in summary["dags"].values():
        assert dag["fileloc"] == str(env.dags_folder / "dativo_dags.py")
        assert [t["operator"] for t in dag["tasks"].values()] == ["PythonOperator"]


def test_catchup_off_and_only_the_airflow_owned_dag_runs(loaded):
    _, summary = loaded
    dags = summary["dags"]
    assert all(d["catchup"] is False for d in dags.values())
    running = {d["dag_id"] for d in dags.values() if not d["is_paused_upon_creation"]}
    assert running == {"globex_catalog_daily"} | MANUAL_DAGS  # a manual DAG has no schedule: unpaused is safe
    for dag_id, dag in dags.items():
        if dag_id in MANUAL_DAGS:
            assert dag["timetable"] == "NullTimetable", dag
        elif dag_id == "globex_catalog_daily":
            assert "paused" not in dag["description"]
        elif dag_id == "initech_invoices_nightly":
            assert "paused: disabled in the runner file (enabled: false)" in dag["description"]
        else:
            assert "paused: owned by dagster" in dag["description"], dag


def _expected_task(defs, op) -> dict:
    retry = op.retry
    return dict(task_id=op.op_name, pool=op.pool, retries=retry.max_retries, retry_delay=retry.initial_delay_seconds,
                max_retry_delay=retry.max_delay_seconds, owner=op.tenant_id,
                retry_waits=retry.waits())  # exact: the job's curve, no jitter, no rounding


def _ops(defs, job_name: str):
    """The asset ops a Dagster job materializes (their contracts), via defs.resolve_assets_def(key)."""
    keys = defs.resolve_job_def(job_name).asset_layer.executable_asset_keys
    return {defs.resolve_assets_def(key).node_def.name: op_contract(defs.resolve_assets_def(key)) for key in keys}


def _check_trigger(defs, trigger, dag: dict, running_in_dagster: bool) -> None:
    contract = trigger_contract(trigger)
    owner, enabled = contract.owner.value, contract.enabled
    assert dag["is_paused_upon_creation"] is (not (owner == "airflow" and enabled)), trigger.name
    assert not (running_in_dagster and not dag["is_paused_upon_creation"]), f"{trigger.name} would run twice"
    assert dag["max_active_runs"] == contract.max_concurrent_runs
    assert dag["description"].startswith(contract.description)

    ops = _ops(defs, trigger.job.name)
    assert set(dag["tasks"]) == set(ops)
    expected_tags = {f"{k}:{v}" for k, v in trigger.tags.items() if not k.startswith("dativo/")}
    expected_tags |= {f"tenant:{trigger.tags[tags.TENANT]}"}
    expected_tags |= {f"source:{op.source}" for op in ops.values()}
    assert set(dag["tags"]) == expected_tags
    for name, op in ops.items():
        task = dag["tasks"][name]
        assert {k: task[k] for k in _expected_task(defs, op)} == _expected_task(defs, op)
        assert task["pool"] == tags.tenant_pool(op.tenant_id) and task["pool_slots"] == 1


def test_parity_with_dagster_definitions(loaded, defs):
    _, summary = loaded
    dags = summary["dags"]
    triggers = [*defs.schedules, *defs.sensors]
    assert {t.name for t in triggers} == set(dags) - MANUAL_DAGS
    untriggered = {job.name for job in defs.jobs} - {t.job_name for t in triggers}
    assert untriggered == MANUAL_DAGS
    for job_name in untriggered:  # manual DAG: the same tasks, retries and pools as the Dagster job's ops
        dag, ops = dags[job_name], _ops(defs, job_name)
        assert dag["timetable"] == "NullTimetable" and set(dag["tasks"]) == set(ops)
        for name, op in ops.items():
            task = dag["tasks"][name]
            assert {k: task[k] for k in _expected_task(defs, op)} == _expected_task(defs, op)
    for schedule in defs.schedules:
        dag = dags[schedule.name]
        assert dag["timetable"] == "DativoCronTimetable"
        assert dag["expression"] == schedule.cron_schedule
        assert dag["timezone"] == (schedule.execution_timezone or "UTC")
        _check_trigger(defs, schedule, dag, schedule.default_status is DefaultScheduleStatus.RUNNING)
    for sensor in defs.sensors:
        dag = dags[sensor.name]
        assert dag["timetable"] == "DeltaTriggerTimetable"
        assert dag["delta"] == sensor.minimum_interval_seconds
        _check_trigger(defs, sensor, dag, sensor.default_status is DefaultSensorStatus.RUNNING)


def test_example_values_spelled_out(loaded):
    """The same facts, written out for the example project (guards against both sides drifting together)."""
    _, summary = loaded
    dags = summary["dags"]
    orders = dags["acme_orders_hourly"]
    assert (orders["expression"], orders["timezone"]) == ("5 * * * *", "Europe/Berlin")
    assert orders["tags"] == ["source:csv", "team:sales", "tenant:acme"]
    assert orders["tasks"]["acme__orders"] == dict(
        task_id="acme__orders", operator="PythonOperator", pool="dativo_tenant_acme", pool_slots=1, retries=2,
        retry_delay=1.0, retry_exponential_backoff=0, max_retry_delay=10.0, owner="acme", upstream=[],
        retry_waits=[1.0, 3.0])  # initial 1 s, multiplier 3, max 10 s: exactly the curve
    assert (dags["globex_events"]["delta"], dags["globex_events"]["max_active_runs"]) == (900, 2)
    assert dags["acme_customers"]["tags"] == ["pii:true", "source:sqlite", "tenant:acme"]
    catalog = dags["globex_catalog_daily"]
    assert (catalog["expression"], catalog["timezone"]) == ("0 0 * * *", "America/New_York")
    assert catalog["tasks"]["globex__catalog"]["retries"] == 3
    assert dags["initech_tickets"]["tasks"]["initech__tickets"]["retries"] == 0


def test_disabled_airflow_owned_schedule_stays_paused(tmp_path):
    env = make_airflow_env(tmp_path)
    add_schedules(env, """
        - name: acme_orders_on_airflow_disabled
          config: ../jobs/acme/orders.yaml
          cron: "0 5 * * *"
          orchestrator: airflow
          enabled: false
    """)
    summary = env.json_from(DAGBAG_SUMMARY)
    assert summary["import_errors"] == {}
    assert summary["dags"]["acme_orders_on_airflow_disabled"]["is_paused_upon_creation"] is True
