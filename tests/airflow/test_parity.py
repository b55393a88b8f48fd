"""Behavioural parity over a generated project (32 schedules, 7 tenants, DST zones, cron and interval schedules,
mixed ownership, varied retry curves). The YAML is read here with yaml.safe_load, independently of dativo's
loader, and each schedule is compared on three sides: what the YAML says (expected), the Dagster definitions,
and the Airflow DAGs the bridge renders:
- fire instants: 12 ticks from just before each of the zone's 2026 DST changes (Dagster's cron rule is the
  oracle: `cron_string_iterator`; the Airflow timetable is driven as the scheduler drives it);
- retry waits per attempt (Dagster: what `_raise_for_failure` requests; Airflow: the task's retry policy);
- pause and ownership; pools and their slots; effective intervals; max concurrent runs.
Must be 100%; `test_a_planted_difference_fails` shows the comparison catches a difference.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import yaml

SEED = 1107
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/London", "America/Chicago", "UTC",
         "Asia/Kolkata"]
CRONS = ["30 2 * * *", "15 1 * * *", "0 * * * *", "*/20 * * * *", "45 2 * * 0", "0 3 * * 1-5", "@daily",
         "30 2 * * 1,3,5", "0 0,12 * * *", "10 2 * * *"]
INTERVALS = [5, 7, 12, 30, 61, 300]
RETRIES = [None, {"max_retries": 0}, {"max_retries": 4, "initial_delay_seconds": 0, "backoff_multiplier": 2},
           {"max_retries": 3, "initial_delay_seconds": 0.5, "backoff_multiplier": 3, "max_delay_seconds": 4},
           {"max_retries": 5, "initial_delay_seconds": 7, "backoff_multiplier": 1.5, "max_delay_seconds": 20},
           {"max_retries": 2, "initial_delay_seconds": 1, "backoff_multiplier": 1}]
DEFAULT_RETRY = {"max_retries": 3, "initial_delay_seconds": 5, "max_delay_seconds": 300, "backoff_multiplier": 2.0}
ALIASES = {"@daily": "0 0 * * *"}
TICKS = 12
SLOTS = 3
GRANULARITY = 5  # Dagster's sensor loop


def generate(root: Path, count: int = 32) -> Path:
    rng = random.Random(SEED)
    print(f"parity project seed {SEED}")
    entries = []
    for i in range(count):
        tenant = f"t{i % 7}"
        job_dir = root / "jobs" / tenant
        job_dir.mkdir(parents=True, exist_ok=True)
        retry = RETRIES[i % len(RETRIES)]
        body = {"tenant_id": tenant, "source": {"type": "csv", "files": [{"path": f"data/j{i}.csv", "object": f"o{i}"}]},
                "target": {"type": "iceberg"}}
        if retry is not None:
            body["retry_config"] = retry
        (job_dir / f"j{i}.yaml").write_text(yaml.safe_dump(body))
        entry = {"name": f"s{i:02d}", "config": f"../jobs/{tenant}/j{i}.yaml",
                 "max_concurrent_runs": 1 + i % 3}
        if i % 4 == 3:
            entry["interval_seconds"] = INTERVALS[i % len(INTERVALS)]
        else:
            entry["cron"] = CRONS[i % len(CRONS)]
            entry["timezone"] = ZONES[i % len(ZONES)]
        if rng.random() < 0.5:
            entry["orchestrator"] = rng.choice(["dagster", "airflow"])
        if rng.random() < 0.2:
            entry["enabled"] = False
        entries.append(entry)
    runner = root / "configs" / "runner.yaml"
    runner.parent.mkdir(parents=True)
    runner.write_text(yaml.safe_dump({"runner": {"orchestrator": {"type": "airflow", "concurrency_per_tenant": SLOTS,
                                                                  "schedules": entries}}}))
    return runner


def dst_changes(zone: str, year: int = 2026) -> list[datetime]:
    """UTC instants at which `zone`'s UTC offset changes in `year` (found by scanning, not by a library rule)."""
    tz, out = ZoneInfo(zone), []
    t = datetime(year, 1, 1, tzinfo=timezone.utc)
    while t.year == year:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            out.append(nxt)
        t = nxt
    return out


def expected_from_yaml(runner: Path) -> dict[str, dict]:
    """Per schedule, what the YAML says must happen (defaults as documented in docs/CONFIG and the schema)."""
    doc = yaml.safe_load(runner.read_text())["runner"]
    default_owner = doc["orchestrator"].get("type", "dagster")
    slots = doc["orchestrator"].get("concurrency_per_tenant", 1)
    out = {}
    for entry in doc["orchestrator"]["schedules"]:
        job = yaml.safe_load((runner.parent / entry["config"]).read_text())
        retry = {**DEFAULT_RETRY, **job.get("retry_config", {})}
        owner = entry.get("orchestrator", default_owner)
        enabled = entry.get("enabled", True)
        interval = entry.get("interval_seconds")
        out[entry["name"]] = {
            "cron": ALIASES.get(entry.get("cron"), entry.get("cron")), "timezone": entry.get("timezone", "UTC"),
            "interval": None if interval is None else -(-interval // GRANULARITY) * GRANULARITY,
            "waits": [min(retry["initial_delay_seconds"] * retry["backoff_multiplier"] ** (n - 1),
                          retry["max_delay_seconds"]) for n in range(1, retry["max_retries"] + 1)],
            "dagster_runs": enabled and owner == "dagster", "airflow_runs": enabled and owner == "airflow",
            "pool": (f"dativo_tenant_{job['tenant_id']}", slots), "max_runs": entry.get("max_concurrent_runs", 1),
        }
    return out


def dagster_fires(cron: str, tz: str, start: datetime) -> list[datetime]:
    from dagster._utils.schedules import cron_string_iterator

    out = []
    for tick in cron_string_iterator(start.timestamp(), cron, tz):
        if tick.timestamp() > start.timestamp():
            out.append(tick.astimezone(timezone.utc))
        if len(out) == TICKS:
            return out
    return out


def fire_starts(cron: str, zone: str) -> list[tuple[datetime, datetime | None]]:
    """(start, DST change) pairs: starts just before each DST change of the zone, so that 12 ticks cross it."""
    first = dagster_fires(cron, "UTC", datetime(2026, 6, 1, tzinfo=timezone.utc))
    period = first[1] - first[0]
    span = min(period * (TICKS // 2), timedelta(days=6 * 7))
    return [(change - span, change) for change in dst_changes(zone)] or [(datetime(2026, 3, 27, tzinfo=timezone.utc),
                                                                         None)]


def dagster_waits(defs, job_name: str) -> list[float]:
    """The waits Dagster's asset requests, by running `_raise_for_failure` on a transient engine failure."""
    from dagster import Failure, RetryRequested

    from dativo_defs.assets import _raise_for_failure
    from dativo_defs.config.loader import load_job
    from dativo_defs.engine.context import RunResult, RunStatus

    assets_def = defs.resolve_assets_def(next(iter(defs.resolve_job_def(job_name).asset_layer.executable_asset_keys)))
    from dativo_defs.contract import op_contract

    job = load_job(Path(op_contract(assets_def).job_file))
    failed = RunResult(job.tenant_id, job.name, "r", RunStatus.FAILED, "csv", "iceberg", error="boom",
                       error_kind="transient")
    waits = []
    for retry_number in range(0, 100):
        context = SimpleNamespace(retry_number=retry_number, run=SimpleNamespace(tags={}), log=logging.getLogger("t"))
        try:
            _raise_for_failure(context, job, failed)
        except RetryRequested as exc:
            waits.append(float(exc.seconds_to_wait))
        except Failure:
            return waits
    raise AssertionError("never stopped retrying")


def compare(runner: Path, render_dag=None) -> tuple[list[tuple], int]:
    """(differences, number of checks): each difference is (schedule, what, expected, dagster, airflow)."""
    from airflow_bridge import render
    from airflow_bridge.compile import compile_manifest
    from airflow_bridge.explain import airflow_fires, airflow_retry_waits
    from airflow_bridge.pools import required_pools
    from airflow_bridge.settings import ExecutionMode
    from dativo_defs.config.loader import load_project
    from dativo_defs.contract import op_contract, trigger_contract
    from dativo_defs.definitions import build_definitions

    project = load_project(runner)
    assert project.issues == []
    defs = build_definitions(project)
    manifest = compile_manifest(defs, project)
    dags = {s.dag_id: (render_dag or render.render_dag)(s, ExecutionMode.IN_PROCESS) for s in manifest.dags}
    pools = required_pools(manifest)
    triggers = {t.name: t for t in [*defs.schedules, *defs.sensors]}
    diffs: list[tuple] = []
    checks = 0

    def check(name, what, expected, dagster, airflow):
        nonlocal checks
        checks += 1
        if not (expected == dagster == airflow):
            diffs.append((name, what, expected, dagster, airflow))

    for name, exp in expected_from_yaml(runner).items():
        trigger, dag = triggers[name], dags[name]
        contract = trigger_contract(trigger)
        if exp["cron"]:
            for start, change in fire_starts(exp["cron"], exp["timezone"]):
                sides = (dagster_fires(exp["cron"], exp["timezone"], start),
                         dagster_fires(trigger.cron_schedule, trigger.execution_timezone, start),
                         airflow_fires(dag.timetable, start, TICKS))
                assert len(sides[0]) == TICKS and (change is None or sides[0][0] < change < sides[0][-1])
                for tick in range(TICKS):  # one check per fire instant
                    check(name, f"fires from {start:%Y-%m-%dT%H:%M}Z tick {tick + 1}",
                          *(side[tick] if tick < len(side) else None for side in sides))
        else:
            check(name, "interval", exp["interval"], trigger.minimum_interval_seconds,
                  int(dag.timetable.delta.total_seconds()))
        running = str(trigger.default_status).endswith("RUNNING")
        check(name, "runs in dagster", exp["dagster_runs"], running, exp["dagster_runs"])
        check(name, "runs in airflow", exp["airflow_runs"], contract.runs_on(contract.owner) and
              contract.owner.value == "airflow", not dag.is_paused_upon_creation)
        check(name, "never both", True, True, not (running and not dag.is_paused_upon_creation))
        check(name, "max runs", exp["max_runs"], contract.max_concurrent_runs, dag.max_active_runs)
        [task] = dag.tasks
        assets_def = defs.resolve_assets_def(next(iter(defs.resolve_job_def(trigger.job.name)
                                                       .asset_layer.executable_asset_keys)))
        op = op_contract(assets_def)
        check(name, "pool", exp["pool"], (assets_def.node_def.pool, op.pool_slots), (task.pool, pools[task.pool]))
        check(name, "retry waits", exp["waits"], dagster_waits(defs, trigger.job.name), airflow_retry_waits(task))
    return diffs, checks


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("parity"))


def test_generated_project_covers_what_parity_needs(project):
    doc = yaml.safe_load(project.read_text())["runner"]["orchestrator"]["schedules"]
    assert len(doc) >= 30 and len({yaml.safe_load((project.parent / e["config"]).read_text())["tenant_id"]
                                   for e in doc}) == 7
    dst_zones = {e["timezone"] for e in doc if "cron" in e and dst_changes(e["timezone"])}
    assert len(dst_zones) >= 4, dst_zones
    assert {e.get("orchestrator") for e in doc} == {None, "dagster", "airflow"} and any("enabled" in e for e in doc)
    assert any("interval_seconds" in e and e["interval_seconds"] % GRANULARITY for e in doc)


def test_parity_is_total(project, monkeypatch):
    monkeypatch.setenv("DATIVO_RUNNER_CONFIG", str(project))
    diffs, checks = compare(project)
    print(f"parity: {checks - len(diffs)} of {checks} checks agree")
    assert checks >= 600 and diffs == []


@pytest.mark.parametrize("plant", ["airflow cron timetable", "airflow backoff", "unpaused everywhere"])
def test_a_planted_difference_fails(project, monkeypatch, plant):
    from airflow.timetables.trigger import CronTriggerTimetable

    from airflow_bridge import render

    monkeypatch.setenv("DATIVO_RUNNER_CONFIG", str(project))

    def planted(spec, mode):
        dag = render.render_dag(spec, mode)
        if plant == "airflow cron timetable" and spec.kind == "cron":
            dag.timetable = CronTriggerTimetable(spec.cron, timezone=spec.timezone)
        if plant == "airflow backoff":
            for task in dag.tasks:
                task.retry_policy = None
        if plant == "unpaused everywhere":
            dag.is_paused_upon_creation = False
        return dag

    diffs, _ = compare(project, planted)
    kinds = {what.split(" from ")[0] for _, what, *_ in diffs}
    assert kinds == {"airflow cron timetable": {"fires"}, "airflow backoff": {"retry waits"},
                     "unpaused everywhere": {"runs in airflow", "never both"}}[plant], diffs[:5]
