"""Live handover with the real schedulers: `dagster dev` and `airflow standalone` on one project, one
every-minute cron schedule. Dagster owns it first; just after a tick that Dagster ran, the schedule is handed to
Airflow (runner file edited, Dagster code location reloaded, the paused DAG unpaused: Airflow's stored next run
is then that very tick, which must not run); just after Airflow's first tick it is handed back (Dagster reloaded;
Airflow runs the tick at which Dagster's schedule starts, then the DAG is paused), and Dagster runs the next one. Over the whole window every tick ran exactly once, summed over both
orchestrators: none twice, none lost (docs/DEPLOYMENT.md "Handing a schedule over")."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_runner
from dativo_defs.instance import write_instance_config
from tests.conftest import summary
from tests.e2e.airflow_server import AirflowStandalone, start_standalone
from tests.e2e.servers import (DAGSTER_LOCATION, base_env, free_port, graphql, start_dagster_dev, wait_dagster_ready,
                               wait_for, write_runner)

pytestmark = pytest.mark.slow

NAME = "handover_every_minute"
RELOAD = """mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) { __typename
  ... on WorkspaceLocationEntry { name } ... on PythonError { message } } }"""
TICK_TAG = ".dagster/scheduled_execution_time"  # dagster._core.storage.tags.SCHEDULED_EXECUTION_TIME_TAG


def _project(root: Path, owner: str) -> Path:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "h.csv").write_text("id,name\n" + "".join(f"{i},h{i}\n" for i in range(20)))
    (root / "jobs" / "h").mkdir(parents=True, exist_ok=True)
    (root / "jobs" / "h" / "h.yaml").write_text("""
tenant_id: h
source:
  type: csv
  files: [{path: ../../data/h.csv, object: h}]
target: {type: iceberg}
retry_config: {max_retries: 0}
""")
    return write_runner(root, [f"      - name: {NAME}\n        config: ../jobs/h/h.yaml\n        cron: \"* * * * *\"\n"
                               f"        orchestrator: {owner}"], owner="dagster", concurrency_per_tenant=2)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _dagster_ticks(dagster_home: Path) -> list[datetime]:
    """Tick times of the schedule's Dagster runs, from the instance storage (GraphQL hides the tick tag)."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.dagster_run import RunsFilter

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        runs = instance.get_runs(RunsFilter(tags={"dativo/schedule": NAME}))
    return [datetime.fromisoformat(r.tags[TICK_TAG]).astimezone(timezone.utc) for r in runs if TICK_TAG in r.tags]


def _dagster_started(dagster_home: Path) -> list[datetime]:
    """When Dagster's daemon started the schedule (its instigator state's start time), if it is running."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.scheduler.instigation import InstigatorStatus

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == NAME
                  and s.status in (InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE)]
    return [datetime.fromtimestamp(s.instigator_data.start_timestamp, timezone.utc) for s in states]


def _airflow_ticks(airflow: AirflowStandalone) -> list[datetime]:
    body = airflow.call("GET", f"/dags/{NAME}/dagRuns", params={"limit": 1000})
    return [datetime.fromisoformat(r["run_after"]).astimezone(timezone.utc)
            for r in body["dag_runs"] if r["run_type"] == "scheduled"]


def _wait_tick_run(ticks, after: datetime, what: str, server) -> datetime:
    """Until a run for a tick later than `after` exists on the side `ticks` reads; returns that tick."""
    found: list[datetime] = []

    def ran() -> bool:
        found[:] = sorted(t for t in ticks() if t > after)
        return bool(found)

    wait_for(ran, 200, interval=1, what=what, abort=lambda: server.process.poll() is not None and server.tail())
    return found[0]


def test_runs_per_tick_summed_over_both_orchestrators_is_one(tmp_path):
    started = time.monotonic()
    runner = _project(tmp_path, "dagster")
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    write_instance_config(load_runner(runner), dagster_home)
    shared = dict(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(home), DAGSTER_HOME=str(dagster_home))
    port = free_port()
    dagster = start_dagster_dev(port, base_env(**shared), tmp_path / "dagster_dev.log")
    airflow = None
    try:
        airflow = start_standalone(tmp_path, set(), timeout=360, **shared)
        wait_for(lambda: NAME in airflow.dags(), 240, interval=2, what="the DAG listed")
        assert airflow.dags()[NAME]["is_paused"] is True, "owned by Dagster: paused in Airflow"
        wait_dagster_ready(dagster, port, timeout=240)
        window_start = _minute(datetime.now(timezone.utc)) + timedelta(minutes=1)

        # --- Dagster owns it: wait for a tick Dagster ran, then hand over at once (just after that tick) ----------
        tick = _wait_tick_run(lambda: _dagster_ticks(dagster_home), window_start - timedelta(seconds=1),
                              "a Dagster tick", dagster)
        if datetime.now(timezone.utc) - tick > timedelta(seconds=30):  # too late in the minute: take the next one
            tick = _wait_tick_run(lambda: _dagster_ticks(dagster_home), tick, "the next Dagster tick", dagster)
        _project(tmp_path, "airflow")
        assert graphql(port, RELOAD, {"name": DAGSTER_LOCATION})["reloadRepositoryLocation"]["__typename"] == \
            "WorkspaceLocationEntry"
        airflow.unpause(NAME)
        to_airflow = datetime.now(timezone.utc)

        # --- Airflow owns it; hand back just after its first tick ---------------------------------------------
        first = _wait_tick_run(lambda: _airflow_ticks(airflow), tick, "an Airflow tick", airflow.server)
        _project(tmp_path, "dagster")
        assert graphql(port, RELOAD, {"name": DAGSTER_LOCATION})["reloadRepositoryLocation"]["__typename"] == \
            "WorkspaceLocationEntry"
        # Dagster's schedule starts at its daemon's next evaluation, "from now": just after that tick, which it
        # does not run. Airflow runs it, and is paused right after (the next tick is Dagster's).
        switched_on: list[datetime] = []
        wait_for(lambda: bool(switched_on.extend(_dagster_started(dagster_home)) or switched_on), 150, interval=0.5,
                 what="Dagster's schedule to start", abort=lambda: dagster.process.poll() is not None and dagster.tail())
        last_airflow = _minute(switched_on[0])
        wait_for(lambda: last_airflow in _airflow_ticks(airflow), 50, interval=0.5,
                 what=f"Airflow's run of {last_airflow}, the last tick before Dagster started")
        airflow.call("PATCH", f"/dags/{NAME}", json={"is_paused": True})
        to_dagster = datetime.now(timezone.utc)

        # --- Dagster again -------------------------------------------------------------------------------------
        last = _wait_tick_run(lambda: _dagster_ticks(dagster_home), last_airflow, "a Dagster tick after the hand-back",
                              dagster)
        time.sleep(15)  # a late run of a tick on the wrong side would show up here
        dagster_ticks, airflow_ticks = _dagster_ticks(dagster_home), _airflow_ticks(airflow)
    finally:
        if airflow is not None:
            airflow.server.stop()
        dagster.stop()

    per_tick = Counter(t for t in [*dagster_ticks, *airflow_ticks] if window_start <= t <= last)
    minutes = int((last - window_start).total_seconds() // 60) + 1
    expected = {window_start + timedelta(minutes=i): 1 for i in range(minutes)}
    detail = (f"dagster ticks {sorted(dagster_ticks)}\nairflow ticks {sorted(airflow_ticks)}\n"
              f"handover to airflow at {to_airflow} (after tick {tick}), Airflow paused at {to_dagster} (after tick "
              f"{last_airflow}; Dagster started at {switched_on[0]})")
    assert dict(per_tick) == expected, detail
    assert tick in dagster_ticks and tick not in airflow_ticks, "the tick before the unpause ran on Dagster only"
    assert {first, last_airflow} <= set(airflow_ticks) and last in dagster_ticks, detail
    summary(f"E2E handover: {minutes} ticks from {window_start:%H:%M} to {last:%H:%M} UTC, each run exactly once "
            f"(dagster {len([t for t in dagster_ticks if t >= window_start])}, airflow {len(airflow_ticks)}); "
            f"handed over after {tick:%H:%M} and back after {last_airflow:%H:%M} ({time.monotonic() - started:.0f}s)")
