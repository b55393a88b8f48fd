"""A real `dagster dev` recovering from source faults, checked the way the Dagster UI shows it (webserver GraphQL):

- a transient fault (FlakyFileSource failing its first 2 runs) is retried by Dagster on the job's own curve
  (RetryRequested: 1 s, then 2 s), the run succeeds with the exact row count, and the asset's latest
  materialization carries rows_written;
- a permanent fault (BrokenFileSource) fails once, without retry, with the reason in the run's event log.

Runs are launched through GraphQL's launchRun (what the UI's "Materialize" does): queued, dequeued by the daemon.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_runner
from dativo_defs.instance import write_instance_config
from tests.conftest import summary
from tests.e2e.servers import (write_runner, DAGSTER_LOCATION, DAGSTER_REPOSITORY, base_env, free_port, graphql, start_dagster_dev,
                               wait_dagster_ready, wait_for)
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow

# job -> (tenant, rows, custom reader); one tenant each, so the two runs are not serialized by the tenant limit
JOBS = {"flaky": ("rt", 150, "tests.engine.faults:FlakyFileSource"),
        "broken": ("rp", 70, "tests.engine.faults:BrokenFileSource")}
RETRY = "retry_config: {max_retries: 3, initial_delay_seconds: 1, backoff_multiplier: 2, max_delay_seconds: 30}"
FAIL_RUNS = 2
EXPECTED_WAITS = [1.0, 2.0]  # initial * multiplier**(n-1) for retries 1 and 2
MAX_OVERHEAD = 20.0  # seconds the engine's next attempt may start after its wait (new step process, busy machine)
EXECUTOR_SLACK = 8.0  # seconds the executor may relaunch the step later than the requested wait (busy machine)
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH = """
mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PipelineNotFoundError { message }
} }"""
STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"""
LOGS = """
query($id: ID!, $after: String) { logsForRun(runId: $id, afterCursor: $after) {
  __typename
  ... on EventConnection { cursor hasMore events {
    __typename
    ... on MessageEvent { message eventType stepKey timestamp level }
    ... on ExecutionStepFailureEvent { error { message } failureMetadata { description } }
    ... on ExecutionStepUpForRetryEvent { secondsToWait error { message } }
  } }
  ... on PythonError { message }
} }"""
ASSET = """
query($path: [String!]!) { assetOrError(assetKey: {path: $path}) {
  __typename
  ... on Asset { assetMaterializations(limit: 1) {
    runId
    metadataEntries { label __typename ... on IntMetadataEntry { intValue } }
  } }
} }"""


def _project(root: Path) -> Path:
    schedules = []
    for job, (tenant, rows, reader) in JOBS.items():
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"{job}.csv").write_text("id,name\n" + "".join(f"{i},{job}-{i}\n" for i in range(rows)))
        (root / "jobs" / tenant).mkdir(parents=True)
        (root / "jobs" / tenant / f"{job}.yaml").write_text(f"""
tenant_id: {tenant}
source:
  type: csv
  custom_reader: {reader}
  files: [{{path: ../../data/{job}.csv, object: {job}}}]
  incremental: {{strategy: file_modified_time}}
target: {{type: iceberg}}
{RETRY}
""")
        # disabled: the asset job is defined but nothing fires on its own; the test launches the runs
        schedules.append(f"      - name: {job}_yearly\n        config: ../jobs/{tenant}/{job}.yaml\n"
                         f"        cron: \"0 0 1 1 *\"\n        enabled: false")
    return write_runner(root, schedules, owner="dagster", concurrency_per_tenant=1)


def _launch(port: int, job: str) -> str:
    tenant = JOBS[job][0]
    params = {"selector": {"repositoryLocationName": DAGSTER_LOCATION, "repositoryName": DAGSTER_REPOSITORY,
                           "jobName": f"{tenant}__{job}_job"},
              "runConfigData": {}, "executionMetadata": {"tags": [{"key": "e2e", "value": "recovery"}]}}
    result = graphql(port, LAUNCH, {"p": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _logs(port: int, run_id: str) -> list[dict]:
    events, cursor = [], None
    while True:
        page = graphql(port, LOGS, {"id": run_id, "after": cursor})["logsForRun"]
        assert page["__typename"] == "EventConnection", page
        events += page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events


def _engine_events(path: Path, job: str) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [e for e in map(json.loads, filter(str.strip, lines)) if e["job"] == job]


def _stamp(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def test_dagster_retries_transient_and_fails_permanent_once(tmp_path):
    started = time.monotonic()
    home, dagster_home, event_log = tmp_path / ".dativo", tmp_path / "dagster_home", tmp_path / "events.jsonl"
    runner = _project(tmp_path)
    write_instance_config(load_runner(runner), dagster_home)
    port = free_port()
    env = base_env(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(home), DAGSTER_HOME=str(dagster_home),
                   DATIVO_EVENT_LOG=str(event_log), DATIVO_TEST_FAIL_FILE=str(tmp_path / "flaky.count"),
                   DATIVO_TEST_FAIL_RUNS=str(FAIL_RUNS))
    server = start_dagster_dev(port, env, tmp_path / "dagster_dev.log")
    try:
        wait_dagster_ready(server, port, timeout=240)
        up = time.monotonic() - started
        runs = {job: _launch(port, job) for job in JOBS}
        statuses: dict[str, str] = {}

        def finished() -> bool:
            for job, run_id in runs.items():
                if statuses.get(job) not in TERMINAL:
                    statuses[job] = graphql(port, STATUS, {"id": run_id})["runOrError"]["status"]
            return all(s in TERMINAL for s in statuses.values())

        wait_for(finished, 300, interval=2, what=f"runs {runs} to finish",
                 abort=lambda: server.process.poll() is not None and server.tail())
        logs = {job: _logs(port, run_id) for job, run_id in runs.items()}
        asset = graphql(port, ASSET, {"path": [JOBS["flaky"][0], "flaky", "flaky"]})["assetOrError"]
        broken_asset = graphql(port, ASSET, {"path": [JOBS["broken"][0], "broken", "broken"]})["assetOrError"]
    finally:
        server.stop()
    assert statuses == {"flaky": "SUCCESS", "broken": "FAILURE"}, (statuses, server.tail(80))

    # --- transient: retried per policy by Dagster --------------------------------------------------------------
    retries = [e for e in logs["flaky"] if e["__typename"] == "ExecutionStepUpForRetryEvent"]
    assert [r["secondsToWait"] for r in retries] == EXPECTED_WAITS, retries
    # the cause is in the step's warning just before each retry event (the retry event's error is RetryRequested)
    warnings = [e["message"] for e in logs["flaky"] if e["__typename"] == "LogMessageEvent" and e["level"] == "WARNING"]
    assert warnings == [f"transient failure (attempt {n} of 4), retrying in {wait}s: ConnectionResetError: "
                        f"injected transient fault in run {n}" for n, wait in enumerate(EXPECTED_WAITS, 1)], warnings
    restarts = [e["message"] for e in logs["flaky"] if e["__typename"] == "ExecutionStepRestartEvent"]
    assert len(restarts) == FAIL_RUNS and "attempt # 3" in restarts[-1], restarts
    # Dagster's own clock: each retry request -> the executor launching the step again waits at least the policy's delay
    stamps = lambda kind: [float(e["timestamp"]) / 1000 for e in logs["flaky"] if e["__typename"] == kind]  # noqa: E731
    up_for_retry, relaunch = stamps("ExecutionStepUpForRetryEvent"), stamps("StepWorkerStartingEvent")[1:]
    executor_waits = [b - a for a, b in zip(up_for_retry, relaunch)]
    for expected, waited in zip(EXPECTED_WAITS, executor_waits):
        assert expected - 0.05 <= waited < expected + EXECUTOR_SLACK, (executor_waits, EXPECTED_WAITS)
    assert not [e for e in logs["flaky"] if e["__typename"] == "ExecutionStepFailureEvent"]
    events = _engine_events(event_log, "flaky")
    kinds = [e["event_type"] for e in events if e["event_type"] in ("job_started", "job_failed", "job_finished")]
    assert kinds == ["job_started", "job_failed"] * FAIL_RUNS + ["job_started", "job_finished"], kinds
    assert [e["error_kind"] for e in events if e["event_type"] == "job_failed"] == ["transient"] * FAIL_RUNS
    assert {e["caller_run_ids"]["dagster_run_id"] for e in events} == {runs["flaky"]}  # one Dagster run, 3 attempts
    starts = [_stamp(e) for e in events if e["event_type"] == "job_started"]
    fails = [_stamp(e) for e in events if e["event_type"] == "job_failed"]
    start_gaps = [b - a for a, b in zip(starts, starts[1:])]
    waits = [start - fail for fail, start in zip(fails, starts[1:])]  # engine failure -> next attempt's start
    for expected, waited in zip(EXPECTED_WAITS, waits):
        assert expected <= waited < expected + MAX_OVERHEAD, (waits, EXPECTED_WAITS)
    assert len(read_iceberg(home, "rt.flaky")) == JOBS["flaky"][1]  # the failed attempts committed nothing
    assert asset["__typename"] == "Asset", asset
    [materialization] = asset["assetMaterializations"]
    metadata = {m["label"]: m.get("intValue") for m in materialization["metadataEntries"]}
    assert materialization["runId"] == runs["flaky"]
    assert metadata["rows_written"] == JOBS["flaky"][1], metadata

    # --- permanent: failed once, the reason visible in the run's event log --------------------------------------
    assert not [e for e in logs["broken"] if e["__typename"] == "ExecutionStepUpForRetryEvent"]
    failures = [e for e in logs["broken"] if e["__typename"] == "ExecutionStepFailureEvent"]
    assert len(failures) == 1, failures
    shown = " ".join([failures[0]["message"] or "", (failures[0]["error"] or {}).get("message", ""),
                      (failures[0]["failureMetadata"] or {}).get("description") or ""])
    assert "permanent failure" in shown and "PermissionError" in shown, shown
    events = _engine_events(event_log, "broken")
    assert [e["event_type"] for e in events if e["event_type"].startswith("job_")] == ["job_started", "job_failed"]
    assert events[-1]["error_kind"] == "permanent", events[-1]
    assert broken_asset["__typename"] != "Asset" or not broken_asset["assetMaterializations"], broken_asset

    summary(f"E2E dagster recovery: transient fault retried by Dagster {len(retries)}x (secondsToWait "
            f"{[r['secondsToWait'] for r in retries]}; executor waited "
            f"{', '.join(f'{w:.2f}s' for w in executor_waits)}; "
            f"engine failure->restart {', '.join(f'{w:.1f}s' for w in waits)}; "
            f"job_started gaps {', '.join(f'{g:.1f}s' for g in start_gaps)}), run SUCCESS, "
            f"{JOBS['flaky'][1]} rows, GraphQL rows_written={metadata['rows_written']}")
    summary(f"E2E dagster recovery: permanent fault failed once (0 retries, 1 job_failed), UI event log shows "
            f"'{(failures[0]['error'] or {}).get('message', '').strip().splitlines()[0][:200]}' "
            f"(dagster dev up in {up:.0f}s, test {time.monotonic() - started:.0f}s)")
