"""Code-location load benchmark: build `defs` for N generated jobs vs a hand-written module declaring the same
assets, schedules, sensors and jobs directly (the floor). Fresh processes; `import dagster` excluded for both.

Usage: python -m tests.bench.bench_defs [--jobs 10 100 1000] [--repeat 3]
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
import sys, time, importlib, dagster
sys.path.insert(0, sys.argv[2])
start = time.perf_counter()
module = importlib.import_module(sys.argv[1])
repo = module.defs.get_repository_def()
repo.get_all_jobs()
print(time.perf_counter() - start)
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


def measure(module: str, root: Path, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, module, str(root)], capture_output=True, text=True, env=env,
                         cwd=REPO, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for count in args.jobs:
        with generated_project(count) as (root, env):
            dativo = statistics.median(measure("dativo_defs.definitions", root, env) for _ in range(args.repeat))
            floor = statistics.median(measure("floor_defs", root, env) for _ in range(args.repeat))
        rows.append({"jobs": count, "floor_s": round(floor, 3), "dativo_s": round(dativo, 3),
                     "ratio": round(dativo / floor, 2)})
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
