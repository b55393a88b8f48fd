"""The code location built from the example project: every YAML attribute present on the Dagster objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import (AssetKey, DefaultScheduleStatus, DefaultSensorStatus, Definitions, RunRequest,
                     build_schedule_context, build_sensor_context)
from dagster._core.test_utils import create_run_for_test, instance_for_test
from dagster._core.storage.dagster_run import DagsterRunStatus

from dativo_defs.config.loader import load_project
from dativo_defs.contract import invalid_contract, trigger_contract
from dativo_defs.definitions import build_definitions
from tests.conftest import REPO


def _defs(runner: Path):
    return build_definitions(load_project(runner))


def test_example_definitions_carry_every_schedule_attribute(example_project):
    defs = _defs(example_project / "configs/runner.yaml")
    orders = defs.get_schedule_def("acme_orders_hourly")
    assert (orders.cron_schedule, orders.execution_timezone) == ("5 * * * *", "Europe/Berlin")
    assert orders.default_status is DefaultScheduleStatus.RUNNING
    assert orders.tags == {"team": "sales", "dativo/tenant": "acme", "dativo/job": "orders",
                           "dativo/schedule": "acme_orders_hourly"}
    airflow_owned = defs.get_schedule_def("globex_catalog_daily")
    assert airflow_owned.default_status is DefaultScheduleStatus.STOPPED
    assert "owned by airflow" in airflow_owned.description
    assert defs.get_schedule_def("initech_invoices_nightly").default_status is DefaultScheduleStatus.STOPPED
    events = defs.get_sensor_def("globex_events")
    assert events.minimum_interval_seconds == 900 and events.default_status is DefaultSensorStatus.RUNNING
    contract = trigger_contract(events)
    assert (contract.max_concurrent_runs, contract.owner.value, contract.enabled) == (2, "dagster", True)
    assets = defs.resolve_all_asset_specs()
    keys = {spec.key for spec in assets}
    assert AssetKey(["globex", "catalog", "eur_invoices"]) in keys and len(keys) == 8
    # the job no schedule names (from `runner.jobs`) is an asset job without a trigger: run by hand
    manual = defs.resolve_job_def("acme__orders_rebuild_job")
    assert AssetKey(["acme", "orders_rebuild", "orders_full"]) in keys
    triggered = {s.job_name for s in defs.schedules} | {s.job_name for s in defs.sensors}
    assert manual.name not in triggered and len(triggered) == 6
    spec = next(s for s in assets if s.key == AssetKey(["acme", "orders", "orders"]))
    assert spec.group_name == "acme" and spec.kinds == {"csv", "iceberg"} and spec.owners == ["team:acme-data"]
    assert spec.tags["dativo/tenant"] == "acme"


def test_max_concurrent_runs_skips_with_a_reason(example_project):
    defs = _defs(example_project / "configs/runner.yaml")
    sensor = defs.get_sensor_def("globex_events")  # max_concurrent_runs: 2
    with instance_for_test() as instance:
        def evaluate():
            with build_sensor_context(instance=instance, definitions=defs) as context:
                return sensor.evaluate_tick(context)
        assert evaluate().run_requests and isinstance(evaluate().run_requests[0], RunRequest)
        for _ in range(2):
            create_run_for_test(instance, job_name="globex__events_job", status=DagsterRunStatus.STARTED,
                                tags={"dativo/schedule": "globex_events"})
        result = evaluate()
        assert not result.run_requests and "2 run(s) of globex_events in progress" in result.skip_message
        schedule = defs.get_schedule_def("acme_orders_hourly")  # max_concurrent_runs: 1
        create_run_for_test(instance, job_name="acme__orders_job", status=DagsterRunStatus.STARTING,
                            tags={"dativo/schedule": "acme_orders_hourly"})
        with build_schedule_context(instance=instance) as context:
            data = schedule.evaluate_tick(context)
        assert not data.run_requests and "max_concurrent_runs is 1" in data.skip_message


def test_a_broken_job_does_not_take_the_location_down(example_project, caplog):
    broken = example_project / "jobs/acme/customers.yaml"
    broken.write_text(broken.read_text().replace("type: sqlite", "type: sqlitee"))
    defs = _defs(example_project / "configs/runner.yaml")
    Definitions.validate_loadable(defs)
    assert defs.get_schedule_def("acme_orders_hourly")
    real = {s.name for s in defs.sensors if invalid_contract(s) is None}
    assert "acme_customers" not in real and "globex_events" in real
    assert not any(AssetKey(["acme", "customers", "customers"]) == s.key for s in defs.resolve_all_asset_specs())
    assert any("customers.yaml" in r.getMessage() and "unknown type 'sqlitee'" in r.getMessage()
               for r in caplog.records)


def test_a_broken_job_is_a_stopped_placeholder_carrying_its_error(example_project):
    """Visible in the UI under the schedule's own name: stopped, the error (file:line: field: message) and the
    fix hint as its description; started anyway, every tick skips with the error; its job fails with it."""
    broken = example_project / "jobs/acme/customers.yaml"
    broken.write_text(broken.read_text().replace("type: sqlite", "type: sqlitee"))
    defs = _defs(example_project / "configs/runner.yaml")
    placeholder = defs.get_sensor_def("acme_customers")
    assert placeholder.default_status is DefaultSensorStatus.STOPPED
    assert placeholder.tags == {"dativo/invalid": "true"}
    error = f"{broken}:4: source: unknown type 'sqlitee'; expected one of: 'csv'"
    assert placeholder.description.startswith("INVALID schedule 'acme_customers': not loaded (1 problem(s))\n")
    assert error in placeholder.description and "Fix: edit the file at the line shown" in placeholder.description
    contract = invalid_contract(placeholder)
    assert (contract.entry, contract.entry_kind, contract.issues[0].line) == ("acme_customers", "schedule", 4)
    with instance_for_test() as instance:
        with build_sensor_context(instance=instance, definitions=defs) as context:
            tick = placeholder.evaluate_tick(context)
        assert not tick.run_requests and error in tick.skip_message
        job = defs.resolve_job_def(placeholder.job_name)
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert error in failure.step_failure_data.user_failure_data.description
        assert len(instance.get_runs()) == 1  # the failed run only: no asset was materialized
        assert not instance.get_latest_materialization_events([AssetKey(["acme", "customers", "customers"])]) \
            .get(AssetKey(["acme", "customers", "customers"]))


def test_every_kind_of_broken_entry_gets_a_uniquely_named_placeholder(example_project):
    runner = example_project / "configs/runner.yaml"
    (example_project / "jobs/acme/orders_rebuild.yaml").write_text("tenant_id: acme\nsource: {type: csv}\n")
    orders = "config: ../jobs/acme/orders.yaml"
    text = runner.read_text().replace("    schedules:\n", "    schedules:\n"
                                      f"      - {{name: acme__orders_job, {orders}, cron: '1 * * * *'}}\n"
                                      f"      - {{name: bad-name!, {orders}, cron: '61 * * * *'}}\n")
    runner.write_text(text)
    defs = _defs(runner)
    Definitions.validate_loadable(defs)
    placeholders = {s.name: invalid_contract(s) for s in defs.sensors if invalid_contract(s) is not None}
    # a job file only `runner.jobs` matched: named after the file; a schedule whose name is a job's dag_id: made
    # unique; one whose name Dagster refuses: made safe
    assert {n: (c.entry, c.entry_kind) for n, c in placeholders.items()} == {
        "orders_rebuild": ("orders_rebuild", "job"),
        "acme__orders_job_invalid": ("acme__orders_job", "schedule"),
        "bad_name": ("bad-name!", "schedule")}
    assert "source.files: required field is missing" in str(placeholders["orders_rebuild"].issues[0])
    assert "dag_id" in placeholders["acme__orders_job_invalid"].issues[0].message


def test_an_unusable_runner_file_is_one_placeholder(example_project):
    runner = example_project / "configs/runner.yaml"
    runner.write_text(runner.read_text().replace("concurrency_per_tenant: 1", "concurrency_per_tenant: many"))
    defs = _defs(runner)
    Definitions.validate_loadable(defs)
    [placeholder] = defs.sensors
    assert placeholder.name == "runner" and not defs.schedules and not list(defs.jobs or [])[1:]
    assert f"{runner}:8: runner.orchestrator.concurrency_per_tenant:" in placeholder.description


def test_dagster_cli_validates_the_code_location(tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path),
           "DATIVO_HOME": str(tmp_path / "home")}
    result = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
                             "workspace.yaml"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful for code location dativo" in result.stderr + result.stdout
