"""The acceptance contract, fuzzed: whatever `dativo validate` accepts, both orchestrators load.

Hypothesis generates runner and job files structured by the pydantic models (field names and shapes of
RunnerConfig / Schedule / JobConfig), mixing valid values with the kinds of input that used to pass validate
and break an orchestrator: names at and over the tag limits, default object names from odd file and table
names, cron dialects, intervals and retry curves at and past their bounds, schedules named like a job's DAG.
For each project, what `dativo validate` runs (load_project + the Dagster acceptance check) decides; then:

- Dagster: `build_definitions` + `Definitions.validate_loadable` (what loading the code location does) loads
  exactly the schedules validate kept, and every retry delay of every job can be computed;
- Airflow: the manifest compiles, every DAG renders, dag_ids are unique (none silently replaces another), and
  every timetable can compute its next run (an interval past a date's range raises there);
- so "validate exit 0" means every schedule loads, and "exit 2" means the others still load on both sides.

Budget: DATIVO_FUZZ_EXAMPLES (default 500) with a seed printed in the summary (DATIVO_FUZZ_SEED replays one).
`test_the_fuzz_catches_a_planted_rule_gap` re-opens one rule (the interval bound) and shows the property fails.
"""

from __future__ import annotations

import os
import random
import tempfile
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import summary

EXAMPLES = int(os.environ.get("DATIVO_FUZZ_EXAMPLES", "500"))
PLANTED_SEED = 20261207
OUTCOMES: dict[int, int] = {}  # validate exit code -> examples (the summary shows both kinds were exercised)
SEED = int(os.environ.get("DATIVO_FUZZ_SEED") or random.SystemRandom().randrange(2**32))

# (valid, hostile) value pairs per field. A project is drawn clean or hostile; in a hostile one each field takes
# a hostile value one time in ten, so both verdicts (exit 0 and exit 2) are common and a hostile value often
# sits in a project whose other parts load.
NAMES = (st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
         st.sampled_from(["a" * 63, "b" * 64, "t" * 94, "config", "x y", "9lives", "a-b", "tickéts", "context"]))
FILE_PATHS = (st.sampled_from(["data/a.csv", "data/x.csv", "data/b-c.csv", "data/*.csv"]),
              st.sampled_from(["data/tickets copy (1).csv", "data/" + "f" * 70 + ".csv", "data/.hidden.csv"]))
TABLES = (st.sampled_from(["invoices", "items", "public.orders"]), st.sampled_from(["invoice lines", "x" * 64, "select"]))
CRONS = (st.sampled_from(["*/15 * * * *", "@daily", "5 4 * * MON-FRI", "0 12 1,15 * *", "30 2 * * *"]),
         st.sampled_from(["0 0 1 * 1", "0 0 1W * *", "0 0 L * *", "0 0 * * 1#2", "@fortnightly", "0 0 30 2 *",
                          "0 0 ? * *", "61 * * * *"]))
INTERVALS = (st.sampled_from([5, 30, 300, 86400, 3155760000]), st.sampled_from([10**12, 5 * 10**11, 3155760001, 0, -5]))
MULTIPLIERS = (st.sampled_from([1, 1.5, 2, 100]), st.sampled_from([101, 1e300, float("inf")]))
DELAYS = (st.sampled_from([0, 1, 5, 300, 86400]), st.sampled_from([3155760000, 3155760001, 1e12]))
TAG_VALUES = (st.sampled_from(["sales", "true", ""]), st.just("v" * 52))
TIMEZONES = (st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]), st.just("Mars/Olympus"))


def _pick(draw, hostile: bool, pair):
    valid, bad = pair
    return draw(bad) if hostile and draw(st.integers(0, 9)) == 0 else draw(valid)


def _job(draw, hostile: bool, index: int) -> dict:
    if draw(st.booleans()):
        files = [{"path": _pick(draw, hostile, FILE_PATHS)} for _ in range(draw(st.integers(1, 2)))]
        source = {"type": "csv", "files": files}
        entries = files
    else:
        tables = [{"name": _pick(draw, hostile, TABLES)} for _ in range(draw(st.integers(1, 2)))]
        source = {"type": "sqlite", "connection": {"database": "shop.db"}, "tables": tables}
        entries = tables
    for number, entry in enumerate(entries):
        if draw(st.booleans()):
            entry["object"] = f"o{number}" if not hostile else _pick(draw, hostile, NAMES)
    initial = _pick(draw, hostile, DELAYS)
    job = {"tenant_id": _pick(draw, hostile, NAMES), "source": source,
           "target": {"type": draw(st.sampled_from(["parquet", "iceberg"]))},
           "retry_config": {"max_retries": draw(st.sampled_from([0, 2, 5, 100])), "initial_delay_seconds": initial,
                            "max_delay_seconds": initial + _pick(draw, hostile, DELAYS),
                            "backoff_multiplier": _pick(draw, hostile, MULTIPLIERS)}}
    if draw(st.booleans()):
        job["name"] = f"job{index}" if not hostile else _pick(draw, hostile, NAMES)
    return job


@st.composite
def projects(draw) -> tuple[dict, dict[str, dict]]:
    """A runner file and its job files, shaped like RunnerConfig/Schedule and JobConfig."""
    hostile = draw(st.booleans())
    job_files = {f"j{i}.yaml": _job(draw, hostile, i) for i in range(draw(st.integers(1, 4)))}
    schedules = []
    scheduled = [draw(st.sampled_from(sorted(job_files))) for _ in range(draw(st.integers(1, 4)))]
    manual = sorted(set(job_files) - set(scheduled)) or sorted(job_files)  # jobs with a manual DAG, if any
    for index, file in enumerate(scheduled):
        other = draw(st.sampled_from(manual))
        clash = f"{job_files[other]['tenant_id']}__{job_files[other].get('name', Path(other).stem)}_job"
        # a schedule named like a job's manual DAG needs two loadable jobs to matter: drawn 1 in 4 when hostile
        name = clash if hostile and draw(st.integers(0, 3)) == 0 else _pick(draw, hostile, (
            st.just(f"s{index}"), st.sampled_from(["b" * 64, "x y", "context"])))
        entry = {"name": name,
                 "config": f"../jobs/{file}", "enabled": draw(st.booleans()),
                 "tags": {key: _pick(draw, hostile, TAG_VALUES) for key in draw(st.lists(
                     st.sampled_from(["team", "pii", "k" * 48]), max_size=2, unique=True))}}
        if draw(st.booleans()):
            entry["cron"] = _pick(draw, hostile, CRONS)
            entry["timezone"] = _pick(draw, hostile, TIMEZONES)
        else:
            entry["interval_seconds"] = _pick(draw, hostile, INTERVALS)
        if draw(st.booleans()):
            entry["orchestrator"] = "airflow"
        schedules.append(entry)
    runner = {"runner": {"jobs": ["../jobs/*.yaml"], "orchestrator": {"schedules": schedules}}}
    return runner, job_files


def check_contract(root: Path) -> None:
    """The acceptance contract for the project under `root` (raises AssertionError or the orchestrator's error)."""
    from dagster import Definitions

    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import TimeRestriction
    from pendulum import now

    from airflow_bridge.compile import compile_manifest
    from airflow_bridge.render import render_dag
    from airflow_bridge.settings import ExecutionMode
    from dativo_defs.acceptance import accept
    from dativo_defs.config.loader import load_project
    from dativo_defs.contract import invalid_contract
    from dativo_defs.definitions import build_definitions

    runner_file = root / "configs" / "runner.yaml"
    entries = [e["name"] for e in yaml.safe_load(runner_file.read_text())["runner"]["orchestrator"]["schedules"]]
    project = accept(load_project(runner_file))  # what `dativo validate` decides
    exit_code = 0 if project.ok else 2
    OUTCOMES[exit_code] = OUTCOMES.get(exit_code, 0) + 1

    defs = build_definitions(project)
    Definitions.validate_loadable(defs)
    in_dagster = [t.name for t in [*defs.schedules, *defs.sensors]]
    placeholders = [t for t in defs.sensors if invalid_contract(t) is not None]  # one per broken entry
    assert len(placeholders) == len(project.broken) and all(t.default_status.value == "STOPPED" for t in placeholders)
    assert sorted(set(in_dagster) - {t.name for t in placeholders}) == sorted(e.schedule.name for e in project.scheduled)
    if exit_code == 0:
        assert sorted(in_dagster) == sorted(entries), "validate passed but a schedule is missing in Dagster"
    for job in [e.job for e in project.scheduled] + project.unscheduled:
        retry = job.config.retry_config
        for attempt in range(1, retry.max_retries + 1):  # what RetryRequested(seconds_to_wait=...) gets
            assert 0 <= retry.delay_before_retry(attempt) <= retry.max_delay_seconds

    manifest = compile_manifest(defs, project)
    dag_ids = [spec.dag_id for spec in manifest.dags]
    assert len(dag_ids) == len(set(dag_ids)), f"two DAGs share a dag_id: {sorted(dag_ids)}"
    assert {s.dag_id for s in manifest.dags if s.kind != "manual"} == set(in_dagster)
    restriction = TimeRestriction(earliest=now("UTC"), latest=None, catchup=False)  # pendulum, like the scheduler
    for spec in manifest.dags:
        dag = render_dag(spec, ExecutionMode.IN_PROCESS)
        if spec.kind == "invalid":  # a broken entry: paused, unscheduled, tagged
            assert dag.is_paused_upon_creation and "dativo:invalid" in dag.tags
            assert type(dag.timetable).__name__ == "NullTimetable"
        elif spec.kind != "manual":  # what the scheduler does with a DAG it loads: its first two runs
            timetable = decode_timetable(encode_timetable(dag.timetable))
            first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
            timetable.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=restriction)


def _write(root: Path, runner: dict, job_files: dict[str, dict]) -> None:
    (root / "configs").mkdir()
    (root / "jobs").mkdir()
    (root / "configs" / "runner.yaml").write_text(yaml.safe_dump(runner, sort_keys=False))
    for name, job in job_files.items():
        (root / "jobs" / name).write_text(yaml.safe_dump(job, sort_keys=False))


def _property(files: tuple[dict, dict[str, dict]]) -> None:
    runner, job_files = files
    with tempfile.TemporaryDirectory(prefix="dativo_fuzz_") as tmp:
        root = Path(tmp)
        _write(root, runner, job_files)
        old = {k: os.environ.get(k) for k in ("DATIVO_RUNNER_CONFIG", "DATIVO_HOME")}
        os.environ["DATIVO_RUNNER_CONFIG"] = str(root / "configs" / "runner.yaml")
        os.environ["DATIVO_HOME"] = str(root / "home")
        try:
            check_contract(root)
        finally:
            for key, value in old.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _fuzz(examples: int, seed_value: int, phases=tuple(Phase)):
    settings_ = settings(max_examples=examples, deadline=None, database=None, derandomize=False, phases=phases,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    return seed(seed_value)(settings_(given(projects())(_property)))


@pytest.fixture(autouse=True)
def _quiet_dativo_logs(caplog):
    caplog.set_level("CRITICAL", logger="dativo.definitions")  # every broken example logs its issues


def test_validate_accepts_only_what_both_orchestrators_load():
    OUTCOMES.clear()
    try:
        _fuzz(EXAMPLES, SEED)()
    finally:
        summary(f"contract fuzz: {EXAMPLES} examples, seed {SEED} (replay: DATIVO_FUZZ_SEED={SEED}); validate exit 0: "
                f"{OUTCOMES.get(0, 0)}, exit 2: {OUTCOMES.get(2, 0)}")
    assert OUTCOMES.get(0, 0) >= EXAMPLES // 10 and OUTCOMES.get(2, 0) >= EXAMPLES // 10


def _reopen_interval_bound(monkeypatch):
    from datetime import timedelta

    from dativo_defs.config import base

    monkeypatch.setattr(base, "MAX_SECONDS", int(timedelta.max.total_seconds()))  # what a timedelta holds


def _reopen_dag_id_rule(monkeypatch):
    from dativo_defs.config import loader

    monkeypatch.setattr(loader, "_check_dag_ids", lambda project: None)


@pytest.mark.parametrize("gap, symptom", [
    (_reopen_interval_bound, "OverflowError: date value out of range"),  # Airflow's scheduler, second run
    (_reopen_dag_id_rule, "two DAGs share a dag_id"),  # one DAG would silently replace the other
], ids=["interval_bound", "dag_id_rule"])
def test_the_fuzz_catches_a_planted_rule_gap(monkeypatch, gap, symptom):
    """Re-open one rule of the acceptance check: inputs it refused pass validate again, and the property must
    find one within the CI budget and fail with the orchestrator's symptom. A fixed seed keeps this
    demonstration deterministic (the main test draws a new seed each run)."""
    gap(monkeypatch)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - which exception is asserted below
        _fuzz(EXAMPLES, PLANTED_SEED, phases=(Phase.generate,))()  # the first failure is enough: no shrinking
    assert symptom in "".join(traceback.format_exception(raised.value))
