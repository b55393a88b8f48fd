"""Airflow parse benchmark: importing `airflow_bridge.dags` for N generated jobs vs a hand-written airflow.sdk
file declaring the same DAGs (the floor). Fresh processes; both pay `import airflow.sdk`; measured in turn
(floor, warm, cold, floor, warm, cold, ...) so that drift in the shared machine's speed hits all three alike.

- warm: the manifest is current (Airflow's steady state, re-parsing every 30 s);
- cold: right after a config change (one job file edited): the manifest is stale, the parse serves the last
  good DAGs and reports the change (issue 15: it used to rebuild the manifest inside the import, 28.8-37.8 s at
  5,000 jobs against Airflow's 30 s import timeout). Its background compile is switched off here so that it
  does not compete with the next measurement; `compile_s` is what that compile (= `dativo airflow compile`, the
  deploy step) takes, outside any parse.
- first (with --first-parse): no manifest at all, the parse waits for the compile it starts, up to
  DATIVO_AIRFLOW_COMPILE_WAIT (20 s), then renders the DAGs or one placeholder DAG.

Usage: python -m tests.bench.bench_parse [--jobs 10 100 1000 5000] [--repeat 3] [--first-parse]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.bench_defs import generated_project

REPO = Path(__file__).resolve().parents[2]

# The same DAGs written by hand, with the same behaviour: Dagster's cron instants (the plugin-registered
# timetable) and an exact-wait retry policy. (Before issue 11 the floor used CronTriggerTimetable and
# retry_exponential_backoff, which behave differently.)
FLOOR_HEADER = """
from datetime import datetime, timedelta, timezone
from airflow.sdk import DAG, DeltaTriggerTimetable
from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy
from airflow.providers.standard.operators.python import PythonOperator
from airflow_bridge.timetable import DativoCronTimetable

class Exact(RetryPolicy):
    def __init__(self, initial, multiplier, cap):
        self.initial, self.multiplier, self.cap = initial, multiplier, cap
    def evaluate(self, exception, try_number, max_tries, context=None):
        return RetryDecision.retry(timedelta(seconds=min(self.initial * self.multiplier ** (try_number - 1), self.cap)))

def run(job_file, **context):
    pass

def make(i, tenant, cron):
    dag = DAG(dag_id=f"s{i}", schedule=DativoCronTimetable("0 * * * *", "UTC") if cron
              else DeltaTriggerTimetable(timedelta(seconds=30)), start_date=None if cron else datetime(2026, 1, 1, tzinfo=timezone.utc),
              catchup=False, max_active_runs=1, is_paused_upon_creation=True, tags=[f"tenant:t{tenant}", "source:csv"],
              description=f"t{tenant}/j{i}", auto_register=False)
    PythonOperator(task_id=f"t{tenant}__j{i}", python_callable=run, op_kwargs={"job_file": f"j{i}.yaml"},
                   dag=dag, pool=f"dativo_tenant_t{tenant}", pool_slots=1, owner=f"t{tenant}", retries=2,
                   retry_delay=timedelta(seconds=1), max_retry_delay=timedelta(seconds=300), retry_policy=Exact(1, 2.0, 300))
    globals()[f"s{i}"] = dag
"""

MEASURE = """
import sys, time
sys.path.insert(0, sys.argv[2])
start = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - start, "dagster" in sys.modules)
"""


def measure(module: str, root: Path, env: dict[str, str]) -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", MEASURE, module, str(root)], capture_output=True, text=True, env=env,
                         cwd=REPO)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    seconds, dagster_loaded = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), dagster_loaded == "True"


def compile_manifest(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "dativo"), "airflow", "compile"], env=env, cwd=REPO,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--first-parse", action="store_true", help="also time a parse that finds no manifest")
    args = parser.parse_args()
    rows = []
    for count in args.jobs:
        with generated_project(count, AIRFLOW__CORE__LOAD_EXAMPLES="False") as (root, env):
            env["AIRFLOW_HOME"] = str(root / "airflow")
            (root / "floor_dags.py").write_text(FLOOR_HEADER + "".join(
                f"make({i}, {i % 10}, {i % 2 == 0})\n" for i in range(count)))
            row: dict[str, object] = {"jobs": count}
            if args.first_parse:
                row["first_parse_s"] = round(measure("airflow_bridge.dags", root, env)[0], 3)
                # let the compile it started (and may have left running) finish before the timed compile
                while subprocess.run([str(Path(sys.executable).parent / "dativo"), "airflow", "compile", "--check"],
                                     env=env, cwd=REPO, capture_output=True).returncode:
                    time.sleep(1)
            compile_s = compile_manifest(env)
            job = root / "jobs" / "t0" / "j0.yaml"
            current = job.read_text()
            cold_env = {**env, "DATIVO_AIRFLOW_AUTO_COMPILE": "false"}
            floor, warm, cold = [], [], []
            for _ in range(args.repeat):
                floor.append(measure("floor_dags", root, env)[0])
                warm.append(measure("airflow_bridge.dags", root, env))
                job.write_text(current + "# edited\n")  # a config change since the compile
                cold.append(measure("airflow_bridge.dags", root, cold_env))
                job.write_text(current)  # back to what was compiled: the manifest is current again
        floor_s, warm_s, cold_s = (statistics.median(x) for x in (floor, [w[0] for w in warm], [c[0] for c in cold]))
        row.update({"floor_s": round(floor_s, 3), "warm_s": round(warm_s, 3), "warm_ratio": round(warm_s / floor_s, 2),
                    "cold_s": round(cold_s, 3), "cold_ratio": round(cold_s / floor_s, 2),
                    "compile_s": round(compile_s, 1), "dagster_imported_by_a_parse": any(m[1] for m in warm + cold),
                    "load_avg_1m": round(os.getloadavg()[0], 2)})
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
