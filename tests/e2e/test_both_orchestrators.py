"""Both orchestrators at once on ONE project: `dagster dev` and `airflow standalone` share the runner file,
DATIVO_HOME (Iceberg catalog and warehouse), DAGSTER_HOME (Airflow's in_process runs are recorded there too) and
the engine's event log. Four interval schedules, two owned by each side: every schedule's runs come from exactly
its owner, the other side never runs it, and repeated ticks of both land every row exactly once.

Who ran an engine run is read from its event lines: `caller` says "dagster" on both sides (Airflow's in_process mode
materializes through Dagster's Python API), so the discriminator is `caller_run_ids` — Airflow runs carry
`airflow/dag_id`; Dagster runs carry only `dagster_run_id`, whose Dagster run has the `dativo/schedule` tag.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_runner
from dativo_defs.instance import write_instance_config
from tests.conftest import summary
from tests.e2e.airflow_server import start_standalone
from tests.e2e.servers import write_runner, base_env, free_port, start_dagster_dev, wait_dagster_ready, wait_for
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow

# schedule -> (owner, tenant, job, interval_seconds, rows of the first file, rows of the second file)
SCHEDULES = {
    "dg_one_tick": ("dagster", "dg", "d1", 5, 300, 40),
    "dg_two_tick": ("dagster", "dg", "d2", 8, 200, 30),
    "af_one_tick": ("airflow", "af", "a1", 5, 250, 20),
    "af_two_tick": ("airflow", "af", "a2", 10, 150, 10),
}
OWNED = {owner: {s for s, spec in SCHEDULES.items() if spec[0] == owner} for owner in ("dagster", "airflow")}
RUNS_AFTER_DROP = 2  # finished engine runs per schedule that started after the second file appeared
MIN_OBSERVE = 60.0  # seconds both servers keep ticking at least (a leak to the wrong side gets time to show)


def _rows(job: str, start: int, count: int) -> str:
    return "id,name\n" + "".join(f"{i},{job}-{i}\n" for i in range(start, start + count))


def _project(root: Path) -> Path:
    entries = []
    for name, (owner, tenant, job, interval, first, _) in SCHEDULES.items():
        (root / "data" / job).mkdir(parents=True)
        (root / "data" / job / "part1.csv").write_text(_rows(job, 0, first))
        (root / "jobs" / tenant).mkdir(parents=True, exist_ok=True)
        (root / "jobs" / tenant / f"{job}.yaml").write_text(f"""
tenant_id: {tenant}
source:
  type: csv
  files: [{{path: "../../data/{job}/*.csv", object: {job}}}]
  incremental: {{strategy: file_modified_time}}
target: {{type: iceberg}}
retry_config: {{max_retries: 1, initial_delay_seconds: 1}}
""")
        entries.append(f"      - name: {name}\n        config: ../jobs/{tenant}/{job}.yaml\n"
                       f"        interval_seconds: {interval}\n        orchestrator: {owner}")
    return write_runner(root, entries, owner="dagster", concurrency_per_tenant=2)


def _events(path: Path) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def _stamp(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def _engine_runs(events: list[dict]) -> dict[str, dict]:
    """engine run_id -> {job, started, finished (event or None), failed, caller_run_ids}."""
    runs: dict[str, dict] = {}
    for event in events:
        run = runs.setdefault(event["run_id"], {"job": event["job"], "started": None, "finished": None, "failed": None,
                                                "caller": event["caller"], "ids": event["caller_run_ids"]})
        if event["event_type"] == "job_started":
            run["started"] = _stamp(event)
        elif event["event_type"] == "job_finished":
            run["finished"] = event
        elif event["event_type"] == "job_failed":
            run["failed"] = event
    return runs


def _finished_after(runs: dict[str, dict], job: str, since: float) -> int:
    return sum(1 for r in runs.values() if r["job"] == job and r["finished"] and r["started"] and r["started"] >= since)


def test_each_schedule_runs_on_its_owner_only(tmp_path):
    from dagster import DagsterInstance, RunsFilter

    started = time.monotonic()
    home, dagster_home, event_log = tmp_path / ".dativo", tmp_path / "dagster_home", tmp_path / "events.jsonl"
    runner = _project(tmp_path)
    write_instance_config(load_runner(runner), dagster_home)
    shared = dict(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(home), DAGSTER_HOME=str(dagster_home),
                  DATIVO_EVENT_LOG=str(event_log))
    port = free_port()
    dagster = start_dagster_dev(port, base_env(**shared), tmp_path / "dagster_dev.log")
    airflow = None
    try:
        # Airflow lists all four DAGs; start_standalone unpauses only what it is given, which must already be unpaused
        airflow = start_standalone(tmp_path, OWNED["airflow"], timeout=360, **shared)
        assert airflow.unpaused == [], f"airflow-owned DAGs were created paused: {airflow.unpaused}"
        wait_dagster_ready(dagster, port, timeout=240)
        both_up = time.monotonic() - started

        job_of = {name: spec[2] for name, spec in SCHEDULES.items()}

        def each_job_finished(since: float, count: int) -> bool:
            if dagster.process.poll() is not None or airflow.server.process.poll() is not None:
                raise RuntimeError(f"a server died\n{dagster.tail()}\n{airflow.server.tail()}")
            runs = _engine_runs(_events(event_log))
            return all(_finished_after(runs, job, since) >= count for job in job_of.values())

        wait_for(lambda: each_job_finished(0, 1), 300, interval=2, what="a finished run of every schedule")
        drop = time.time()
        for name, (_, _, job, _, first, second) in SCHEDULES.items():
            (tmp_path / "data" / job / "part2.csv").write_text(_rows(job, first, second))
        wait_for(lambda: each_job_finished(drop, RUNS_AFTER_DROP), 300, interval=2,
                 what=f"{RUNS_AFTER_DROP} runs of every schedule after the second file appeared")
        remaining = MIN_OBSERVE - (time.monotonic() - started - both_up)
        if remaining > 0:
            time.sleep(remaining)
        observed = time.monotonic() - started

        fetched = time.time()
        dags = airflow.dags()
        dag_runs = {name: airflow.call("GET", f"/dags/{name}/dagRuns", params={"limit": 1000})["dag_runs"]
                    for name in SCHEDULES}
    finally:
        dagster.stop()
        if airflow is not None:
            airflow.server.stop()

    events = _events(event_log)
    runs = _engine_runs(events)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        by_schedule = {name: instance.get_runs(RunsFilter(tags={"dativo/schedule": name})) for name in SCHEDULES}
        dagster_run_schedule = {r.run_id: name for name, runs_ in by_schedule.items() for r in runs_}
        recorded_airflow = {r.tags["airflow/dag_id"] for r in instance.get_runs()
                            if "airflow/dag_id" in r.tags}

    # --- who ran each engine run (from the shared event log) ----------------------------------------------------
    ran_by: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    schedule_of_job = {spec[2]: name for name, spec in SCHEDULES.items()}
    for run_id, run in runs.items():
        schedule = schedule_of_job[run["job"]]
        assert run["caller"] == "dagster", run  # both sides materialize through Dagster: not a discriminator
        if "airflow/dag_id" in run["ids"]:
            orchestrator = "airflow"
            assert run["ids"]["airflow/dag_id"] == schedule, (run_id, run)
            if run["started"] and run["started"] < fetched:  # the engine run belongs to a DAG run the API lists
                assert run["ids"]["airflow/run_id"] in {r["dag_run_id"] for r in dag_runs[schedule]}, (run_id, run)
        else:
            orchestrator = "dagster"
            assert dagster_run_schedule.get(run["ids"].get("dagster_run_id")) == schedule, (run_id, run)
        ran_by[schedule].add(orchestrator)
        counts[schedule][orchestrator] += 1
    for name, (owner, *_rest) in SCHEDULES.items():
        assert ran_by[name] == {owner}, f"{name} (owned by {owner}) ran on {ran_by[name]}: {dict(counts[name])}"
        assert counts[name][owner] >= 1 + RUNS_AFTER_DROP
    failed = [r["failed"] for r in runs.values() if r["failed"]]
    assert not failed, failed

    # --- Airflow never ran the dagster-owned DAGs; Dagster never ran the airflow-owned schedules ------------------
    for name in OWNED["dagster"]:
        assert dags[name]["is_paused"] is True, dags[name]
        assert dag_runs[name] == [], f"dagster-owned {name} ran in Airflow: {dag_runs[name]}"
        assert by_schedule[name], f"no Dagster run of {name}"
    for name in OWNED["airflow"]:
        assert dags[name]["is_paused"] is False, dags[name]
        assert dag_runs[name], f"no Airflow DAG run of {name}"
        assert {r["run_type"] for r in dag_runs[name]} == {"scheduled"}, dag_runs[name]
        assert by_schedule[name] == [], f"airflow-owned {name} ran in Dagster: {[r.run_id for r in by_schedule[name]]}"
    # Airflow's in_process runs are visible in the shared Dagster instance, for the airflow-owned schedules only
    assert recorded_airflow == OWNED["airflow"], recorded_airflow

    # --- exact data: each file landed once, however many ticks ran -----------------------------------------------
    landed = {}
    for name, (_, tenant, job, _, first, second) in SCHEDULES.items():
        landed[name] = len(read_iceberg(home, f"{tenant}.{job}"))
        assert landed[name] == first + second, (name, landed[name], first + second)
        written = sum(r["finished"]["rows"] for r in runs.values() if r["job"] == job and r["finished"])
        assert written == first + second, (name, written)
    # (runs cut off by stopping the servers committed nothing or everything: the counts above still hold)

    per_schedule = ", ".join(f"{name}={owner}:{counts[name][owner]} runs/{landed[name]} rows"
                             for name, (owner, *_r) in SCHEDULES.items())
    summary(f"E2E ownership: dagster dev + airflow standalone on one project, {len(runs)} engine runs; {per_schedule}; "
            f"0 cross-orchestrator runs (Airflow: dagster-owned DAGs paused with 0 dag runs; Dagster: 0 runs tagged "
            f"with an airflow-owned schedule); both up in {both_up:.0f}s, observed until {observed:.0f}s, "
            f"total {time.monotonic() - started:.0f}s")
