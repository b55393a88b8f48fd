"""Code-location load benchmark: build `defs` for N generated jobs vs a hand-written module declaring the same
assets, schedules, sensors and jobs directly (the floor). Fresh processes; `import dagster` excluded for both.

Timed per process: importing the module, building `defs` and resolving every job (`load`), then (unless
`--no-snapshot`) the serialized repository snapshot the code server hands the webserver and daemon (`snapshot`:
assets, groups, job refs, schedules, sensors; job snapshots deferred, as Dagster's gRPC code location asks).
dativo and the floor alternate within each repeat, so a drifting machine shifts both. `--baseline DIR` adds the
dativo_defs of another checkout (e.g. `git archive main | tar -x -C DIR`), measured the same way.

Usage: python -m tests.bench.bench_defs [--jobs 1000 5000] [--repeat 3] [--no-snapshot] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

JOB = """tenant_id: t{tenant}
source: {{type: csv, files: [{{path: data/j{i}.csv, object: o{i}}}]}}
target: {{type: iceberg}}
retry_config: {{max_retries: 2, initial_delay_seconds: 1}}
"""

FLOOR_HEADER = """
from dagster import (AssetKey, AssetSpec, Backoff, DefaultScheduleStatus, DefaultSensorStatus, Definitions, RetryPolicy,
                     RunRequest, ScheduleDefinition, SensorDefinition, define_asset_job, multi_asset)
assets, jobs, schedules, sensors = [], [], [], []
def make(i, tenant, cron):
    @multi_asset(name=f"t{tenant}__j{i}", specs=[AssetSpec([f"t{tenant}", f"j{i}", f"o{i}"], group_name=f"t{tenant}",
                 kinds={"csv", "iceberg"}, tags={"dativo/tenant": f"t{tenant}", "dativo/job": f"j{i}"})],
                 pool=f"dativo_tenant_t{tenant}", retry_policy=RetryPolicy(max_retries=2, delay=1, backoff=Backoff.EXPONENTIAL))
    def op(context):
        return None
    job = define_asset_job(f"t{tenant}__j{i}_job", selection=[AssetKey([f"t{tenant}", f"j{i}", f"o{i}"])])
    assets.append(op); jobs.append(job)
    if cron:
        schedules.append(ScheduleDefinition(name=f"s{i}", cron_schedule="0 * * * *", execution_timezone="UTC", job=job,
                         default_status=DefaultScheduleStatus.RUNNING, tags={"dativo/tenant": f"t{tenant}"}))
    else:
        sensors.append(SensorDefinition(name=f"s{i}", evaluation_fn=lambda ctx: RunRequest(), minimum_interval_seconds=30,
                       job=job, default_status=DefaultSensorStatus.RUNNING))
"""

MEASURE = """
import sys, time, importlib, json, dagster
sys.path.insert(0, sys.argv[2])
start, cpu = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
repo = module.defs.get_repository_def()
repo.get_all_jobs()
load, load_cpu = time.perf_counter() - start, time.process_time() - cpu
snapshot = None
if sys.argv[3] == "snapshot":  # what the code server answers the webserver/daemon (job snapshots deferred)
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value
    begin = time.perf_counter()
    serialize_value(RepositorySnap.from_def(repo, defer_snapshots=True))
    snapshot = time.perf_counter() - begin
print(json.dumps({"load": load, "load_cpu": load_cpu, "snapshot": snapshot}))
"""


def make_project(root: Path, count: int) -> Path:
    schedules = []
    for i in range(count):
        job = root / "jobs" / f"t{i % 10}" / f"j{i}.yaml"
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(JOB.format(tenant=i % 10, i=i))
        cadence = 'cron: "0 * * * *"' if i % 2 == 0 else "interval_seconds: 30"
        schedules.append(f"      - {{name: s{i}, config: ../jobs/t{i % 10}/j{i}.yaml, {cadence}}}")
    runner = root / "configs" / "runner.yaml"
    runner.parent.mkdir(parents=True, exist_ok=True)
    runner.write_text("runner:\n  orchestrator:\n    schedules:\n" + "\n".join(schedules) + "\n")
    floor = root / "floor_defs.py"
    body = "".join(f"make({i}, {i % 10}, {i % 2 == 0})\n" for i in range(count))
    floor.write_text(FLOOR_HEADER + body + "defs = Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensors)\n")
    return runner


@contextmanager
def generated_project(count: int, **extra_env: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary project with `count` jobs, and the environment that selects it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runner = make_project(root, count)
        yield root, {**os.environ, "DATIVO_RUNNER_CONFIG": str(runner), "DATIVO_HOME": str(root / "home"),
                     "PYTHONPATH": str(REPO), **extra_env}


def measure(module: str, root: Path, env: dict[str, str], snapshot: bool = False, checkout: Path = REPO
            ) -> dict[str, float]:
    """One fresh process; `checkout` is first on its sys.path (`python -c` puts the working directory there)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, module, str(root), "snapshot" if snapshot else "load"],
                         capture_output=True, text=True, env={**env, "PYTHONPATH": str(checkout)}, cwd=checkout,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return round(statistics.median(values), 3) if values else None


def _ratio(runs: list[dict[str, float]], floor: list[dict[str, float]]) -> float:
    """The median of the pairwise load-time ratios (each pair measured back to back)."""
    return round(statistics.median(a["load"] / b["load"] for a, b in zip(runs, floor, strict=True)), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 5000])  # issue 15's two sizes
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the code server's repository snapshot (what the UI loads)")
    parser.add_argument("--baseline", type=Path, help="a checkout whose dativo_defs is measured as well")
    args = parser.parse_args()
    rows = []
    for count in args.jobs:
        load_before = os.getloadavg()[0]
        with generated_project(count) as (root, env):
            paths = {"dativo": ("dativo_defs.definitions", REPO), "floor": ("floor_defs", REPO)}
            if args.baseline:
                paths["baseline"] = ("dativo_defs.definitions", args.baseline.resolve())
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
            for _ in range(args.repeat):  # alternating: dativo, floor[, baseline], dativo, ...
                for name, (module, checkout) in paths.items():
                    runs[name].append(measure(module, root, env, args.snapshot, checkout))
        row: dict[str, object] = {"jobs": count, "load_avg_start": round(load_before, 2),
                                  "load_avg_end": round(os.getloadavg()[0], 2)}
        for name in paths:
            row[f"{name}_s"] = _median(runs[name], "load")
            row[f"{name}_cpu_s"] = _median(runs[name], "load_cpu")
            if args.snapshot:
                row[f"{name}_snapshot_s"] = _median(runs[name], "snapshot")
        row["ratio"] = _ratio(runs["dativo"], runs["floor"])
        if args.baseline:
            row["baseline_ratio"] = _ratio(runs["baseline"], runs["floor"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
