"""`dativo validate` wall time (the whole command: interpreter start, imports including Dagster's validators for
the acceptance check, every file read and checked) for a generated project of N jobs over T tenants, all
scheduled and also matched by a recursive `runner.jobs` glob; and how fast hostile files are refused (a 10 MB
job file, a YAML alias bomb), both as a whole `dativo validate` run and as the in-process refusal alone.

Usage: python -m tests.bench.bench_validate [--jobs 1000] [--tenants 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bad_inputs.cases import BOMB

REPO = Path(__file__).resolve().parents[2]
DATIVO = str(Path(sys.executable).parent / "dativo")

JOB = """tenant_id: t{tenant}
name: j{i}
source: {{type: csv, files: [{{path: data/j{i}.csv, object: o{i}}}]}}
target: {{type: iceberg}}
contract: {{schema: [{{name: id, type: long}}]}}
retry_config: {{max_retries: 2, initial_delay_seconds: 1, backoff_multiplier: 2}}
"""


def make_project(root: Path, jobs: int, tenants: int) -> Path:
    schedules = []
    for i in range(jobs):
        job = root / "jobs" / f"t{i % tenants}" / f"j{i}.yaml"
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(JOB.format(tenant=i % tenants, i=i))
        cadence = 'cron: "0 * * * *"' if i % 2 == 0 else "interval_seconds: 30"
        schedules.append(f"      - {{name: s{i}, config: ../jobs/t{i % tenants}/j{i}.yaml, {cadence}, "
                         f"tags: {{team: t{i % tenants}}}}}")
    runner = root / "configs" / "runner.yaml"
    runner.parent.mkdir(parents=True, exist_ok=True)
    runner.write_text('runner:\n  jobs: ["../jobs/**/*.yaml"]\n  orchestrator:\n    schedules:\n'
                      + "\n".join(schedules) + "\n")
    return runner


def validate(runner: Path) -> tuple[float, int]:
    env = {**os.environ, "DATIVO_RUNNER_CONFIG": str(runner), "DATIVO_HOME": str(runner.parent.parent / "home"),
           "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run([DATIVO, "validate"], capture_output=True, text=True, env=env, cwd=runner.parent)
    return time.perf_counter() - start, done.returncode


def refuse_in_process(file: Path) -> float:
    from dativo_defs.config.errors import ConfigError
    from dativo_defs.config.yaml_loader import load_yaml

    start = time.perf_counter()
    try:
        load_yaml(file)
    except ConfigError:
        return time.perf_counter() - start
    raise AssertionError(f"{file} was not refused")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runner = make_project(root, args.jobs, args.tenants)
        runs = [validate(runner) for _ in range(args.repeat)]
        assert all(code == 0 for _, code in runs), runs
        result = {"jobs": args.jobs, "tenants": args.tenants, "validate_s": round(statistics.median(t for t, _ in runs), 3)}

        hostile = {"10mb": root / "jobs/t0/j0.yaml", "alias_bomb": root / "jobs/t1/j1.yaml"}
        with hostile["10mb"].open("w") as handle:
            handle.write("tenant_id: t0\ndescription: |\n" + ("  " + "x" * 1022 + "\n") * 10_240)
        hostile["alias_bomb"].write_text(BOMB)
        for name, file in hostile.items():
            result[f"{name}_refused_in_process_s"] = round(statistics.median(
                refuse_in_process(file) for _ in range(args.repeat)), 5)
        runs = [validate(runner) for _ in range(args.repeat)]
        assert all(code == 2 for _, code in runs), runs
        result["validate_with_both_hostile_files_s"] = round(statistics.median(t for t, _ in runs), 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
