"""`dativo explain` on the examples reports no mismatch, and does report a renderer that drifts."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from dativo_defs.config.loader import load_project
from dativo_defs.definitions import build_definitions

from airflow_bridge.cache import rebuild_manifest
from airflow_bridge.explain import explain
from airflow_bridge.pools import required_pools
from airflow_bridge.render import render_dag
from airflow_bridge.settings import ExecutionMode


def _sides(example_project):
    defs = build_definitions(load_project(example_project / "configs/runner.yaml"))
    manifest = rebuild_manifest()
    return defs, {spec.dag_id: render_dag(spec, ExecutionMode.IN_PROCESS) for spec in manifest.dags}, manifest


def test_examples_have_no_mismatch_via_the_cli(example_project, dativo_home):
    result = subprocess.run([str(Path(sys.executable).parent / "dativo"), "explain"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "0 mismatch(es) in 7 DAG(s)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("globex_catalog_daily") and "runs in" in line)
    assert row.split()[3:] == ["-", "(owner", "airflow)", "airflow", "ok"]


def test_drift_is_reported(example_project, dativo_home):
    defs, dags, _ = _sides(example_project)
    dags["acme_orders_hourly"].tasks[0].retries = 0
    dags["globex_events"].max_active_runs = 5
    dags["acme_customers"].is_paused_upon_creation = False  # would run in both orchestrators
    bad = {(r.schedule, r.attribute) for r in explain(defs, dags) if not r.ok}
    assert bad == {("acme_orders_hourly", "retries"), ("acme_orders_hourly", "retry waits s"),
                   ("globex_events", "max runs"), ("acme_customers", "runs in")}


def test_behaviour_drift_is_reported_with_the_exit_code(example_project, dativo_home):
    """Same static attributes, different behaviour: Airflow's own CronTriggerTimetable (fires the 02:30 tick of
    Berlin's spring-forward day 30 min after Dagster) and Airflow's jittered backoff instead of the exact policy."""
    from airflow.timetables.trigger import CronTriggerTimetable

    runner = example_project / "configs/runner.yaml"
    runner.write_text(runner.read_text().replace('cron: "30 2 * * *"', 'cron: "30 2 * * *"\n        timezone: Europe/Berlin'))
    defs, dags, _ = _sides(example_project)
    start = datetime(2026, 3, 27, tzinfo=timezone.utc)  # Berlin springs forward on 2026-03-29
    assert [r for r in explain(defs, dags, start=start) if not r.ok] == []
    dags["initech_invoices_nightly"].timetable = CronTriggerTimetable("30 2 * * *", timezone="Europe/Berlin")
    dags["acme_orders_hourly"].tasks[0].retry_policy = None
    rows = explain(defs, dags, start=start)
    assert {(r.schedule, r.attribute) for r in rows if not r.ok} == {
        ("initech_invoices_nightly", "next 6 fires"), ("acme_orders_hourly", "retry waits s")}
    fires = next(r for r in rows if r.attribute == "next 6 fires" and not r.ok)
    assert "2026-03-29T01:00:00+00:00" in fires.dagster and "2026-03-29T01:30:00+00:00" in fires.airflow
    cli = subprocess.run([str(Path(sys.executable).parent / "dativo"), "explain", "--from", start.isoformat()],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and "0 mismatch(es) in 7 DAG(s)" in cli.stdout, cli.stdout[-2000:] + cli.stderr[-2000:]


def test_live_pools_and_pause_state_are_compared(example_project, dativo_home):
    defs, dags, manifest = _sides(example_project)
    pools = required_pools(manifest)
    assert pools == {"dativo_tenant_acme": 1, "dativo_tenant_globex": 1, "dativo_tenant_initech": 1}
    live = {"paused": {"globex_catalog_daily": False}, "pools": {k: v for k, v in pools.items() if "acme" not in k}}
    bad = {(r.schedule, r.attribute) for r in explain(defs, dags, live) if not r.ok}
    assert bad == {("acme_orders_hourly", "pool slots (live)"), ("acme_customers", "pool slots (live)"),
                   ("acme__orders_rebuild_job", "pool slots (live)")}  # the manual DAG needs the pool too
    live["paused"]["globex_catalog_daily"] = True  # someone paused the airflow-owned DAG: it runs nowhere
    bad = {(r.schedule, r.attribute) for r in explain(defs, dags, live) if not r.ok}
    assert ("globex_catalog_daily", "runs in") in bad


def test_a_broken_entry_is_a_placeholder_on_both_sides(example_project, dativo_home):
    customers = example_project / "jobs/acme/customers.yaml"
    customers.write_text(customers.read_text().replace("type: sqlite", "type: sqlitee"))
    defs, dags, _ = _sides(example_project)
    rows = explain(defs, dags)
    assert [r for r in rows if not r.ok] == []
    [row] = [r for r in rows if r.schedule == "acme_customers"]
    assert (row.attribute, row.airflow) == ("invalid", "paused placeholder (dativo:invalid)")
    assert row.dagster.startswith("stopped placeholder: INVALID schedule 'acme_customers'")
    dags["acme_customers"].is_paused_upon_creation = False  # a placeholder that could be scheduled: reported
    assert [(r.schedule, r.attribute) for r in explain(defs, dags) if not r.ok] == [("acme_customers", "invalid")]
