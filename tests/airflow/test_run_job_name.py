"""Runs started by Airflow (in_process mode) carry the job's own asset-job name in Dagster."""

from __future__ import annotations

from types import SimpleNamespace

from dagster import DagsterInstance

from airflow_bridge.modes.in_process import run_in_process


def test_in_process_run_carries_the_asset_job_name(example_project, monkeypatch):
    home = example_project / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ti = SimpleNamespace(dag_id="acme_orders_hourly", run_id="manual__1", task_id="acme__orders", try_number=1)
    out = run_in_process(str(example_project / "jobs/acme/orders.yaml"), ti=ti)
    with DagsterInstance.get() as instance:
        run = instance.get_run_by_id(out["dagster_run_id"])
    assert run.job_name == "acme__orders_job"
    assert run.tags["airflow/dag_id"] == "acme_orders_hourly"
    assert [o["rows_written"] for o in out["objects"]] == [300]
