"""Airflow parse benchmark: importing `airflow_bridge.dags` for N generated jobs vs a hand-written airflow.sdk
file declaring the same DAGs (the floor). Fresh processes; both pay `import airflow.sdk`. The bridge is
measured warm (manifest valid: Airflow's steady state, re-parsing every 30 s) and cold (manifest rebuilt
after a config change).

Usage: python -m tests.bench.bench_parse [--jobs 10 100 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for count in args.jobs:
        with generated_project(count, AIRFLOW__CORE__LOAD_EXAMPLES="False") as (root, env):
            env["AIRFLOW_HOME"] = str(root / "airflow")
            (root / "floor_dags.py").write_text(FLOOR_HEADER + "".join(
                f"make({i}, {i % 10}, {i % 2 == 0})\n" for i in range(count)))
            cold, _ = measure("airflow_bridge.dags", root, env)  # builds the manifest
            warm = [measure("airflow_bridge.dags", root, env) for _ in range(args.repeat)]
            floor = statistics.median(measure("floor_dags", root, env)[0] for _ in range(args.repeat))
        bridge = statistics.median(w[0] for w in warm)
        rows.append({"jobs": count, "floor_s": round(floor, 3), "bridge_warm_s": round(bridge, 3),
                     "ratio": round(bridge / floor, 2), "bridge_cold_s": round(cold, 3),
                     "dagster_imported_when_warm": any(w[1] for w in warm)})
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
