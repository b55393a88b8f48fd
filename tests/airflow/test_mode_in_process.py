"""`in_process` mode: `airflow dags test` of rendered DAGs against a migrated SQLite Airflow DB (one per module):
data really lands in Iceberg, the engine metrics reach XCom, transient faults are retried by Airflow (one engine
run per Airflow try) after exactly the job's curve (the retry policy's override, stored by Airflow per try),
permanent faults fail the first try.

Found (Airflow 3.3.2, airflow/sdk/definitions/dag.py `DAG.test`): `dags test` runs a scheduler-like loop without
an executor: a failed try goes to up_for_retry, the loop polls about once a second ("No tasks to run") until
`next_retry_datetime()` passes, then runs the next try in the same process. So retries, retry_delay and
retry_exponential_backoff are honoured (to about 1 s). Pools are NOT enforced by `dags test` (no scheduler).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, make_airflow_env
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow

ROWS = 500
FAULTY_JOB = """\
tenant_id: faulty
source:
  type: csv
  batch_rows: 100
  custom_reader: tests.engine.faults:FlakyFileSource
  files:
    - path: data/items.csv
      object: {object}
target:
  type: iceberg
retry_config:
  max_retries: 3
  initial_delay_seconds: 1
  backoff_multiplier: 2
"""

# Task instance tries (history + current) and the return_value XCom of one DAG, read from the Airflow DB.
RUN_RECORD = """
import json
from sqlalchemy import select
from airflow.models.taskinstance import TaskInstance
from airflow.models.taskinstancehistory import TaskInstanceHistory
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

def row(ti):
    return dict(task_id=ti.task_id, state=str(ti.state.value if hasattr(ti.state, "value") else ti.state),
                try_number=ti.try_number, max_tries=ti.max_tries, start=ti.start_date.timestamp(),
                end=ti.end_date.timestamp() if ti.end_date else None, retry_delay_override=ti.retry_delay_override)
with create_session() as s:
    out = {}
    for dag_id in {ti.dag_id for ti in s.scalars(select(TaskInstance))}:
        tis = [row(t) for t in s.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id))]
        history = sorted((row(t) for t in s.scalars(select(TaskInstanceHistory).where(
            TaskInstanceHistory.dag_id == dag_id))), key=lambda r: r["try_number"])
        xcoms = [x.value for x in s.scalars(select(XComModel).where(XComModel.dag_id == dag_id,
                                                                   XComModel.key == "return_value"))]
        out[dag_id] = dict(tis=tis, history=history, xcoms=xcoms)
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> AirflowEnv:
    env = make_airflow_env(tmp_path_factory.mktemp("dags_test"))
    jobs = env.project / "jobs" / "faulty"
    (jobs / "data").mkdir(parents=True)
    (jobs / "data" / "items.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, ROWS + 1)))
    (jobs / "flaky.yaml").write_text(FAULTY_JOB.format(object="flaky_items"))
    (jobs / "permanent.yaml").write_text(FAULTY_JOB.format(object="permanent_items"))
    add_schedules(env, """
        - name: faulty_flaky
          config: ../jobs/faulty/flaky.yaml
          cron: "0 3 * * *"
        - name: faulty_permanent
          config: ../jobs/faulty/permanent.yaml
          cron: "0 4 * * *"
    """)
    for args in (["db", "migrate"], ["pools", "set", "dativo_tenant_acme", "1", "acme"],
                 ["pools", "set", "dativo_tenant_faulty", "1", "faulty"], ["dags", "reserialize"]):
        proc = env.airflow(*args, timeout=180)
        assert proc.returncode == 0, f"airflow {' '.join(args)}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return env


def _dags_test(env: AirflowEnv, dag_id: str, **extra: str):
    return env.airflow("dags", "test", dag_id, timeout=240, DATIVO_AIRFLOW_MODE="in_process", **extra)


def _engine_runs(output: str) -> set[str]:
    """Distinct engine run ids of `job_started` events in the task output (each event may be echoed twice)."""
    return set(re.findall(r'"event_type": "job_started".*?"run_id": "([0-9a-f]+)"', output))


def _record(env: AirflowEnv, dag_id: str) -> dict:
    return env.json_from(RUN_RECORD)[dag_id]


def test_example_file_dag_lands_data_and_returns_metrics(airflow_env):
    proc = _dags_test(airflow_env, "acme_orders_hourly")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    landed = read_iceberg(airflow_env.dativo_home, "acme.orders")
    assert len(landed) == 300
    assert sorted(landed.column("order_id").to_pylist()) == list(range(1, 301))

    [line] = [l for l in output.splitlines() if l.startswith("dativo metrics: ")]
    logged = json.loads(line.removeprefix("dativo metrics: "))
    record = _record(airflow_env, "acme_orders_hourly")
    assert [(t["task_id"], t["state"], t["try_number"]) for t in record["tis"]] == [("acme__orders", "success", 1)]
    [xcom] = record["xcoms"]
    assert xcom == logged
    [obj] = xcom["objects"]
    assert (obj["asset_key"], obj["table"], obj["rows_written"], obj["status"]) == ("acme/orders/orders",
                                                                                    "acme.orders", 300, "success")
    assert xcom["dagster_run_id"] and obj["snapshot_id"] != "none"


def test_transient_fault_is_retried_by_airflow(airflow_env):
    counter = airflow_env.root / "flaky-runs"
    proc = _dags_test(airflow_env, "faulty_flaky", DATIVO_TEST_FAIL_FILE=str(counter), DATIVO_TEST_FAIL_RUNS="2",
                      DATIVO_TEST_FAIL_AFTER="2")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert counter.read_text() == "3", "one engine run per Airflow try: Dagster must not retry inside the task"
    assert len(_engine_runs(output)) == 3
    for run in (1, 2):
        assert f"transient failure: ConnectionResetError: injected transient fault in run {run}" in output

    landed = read_iceberg(airflow_env.dativo_home, "faulty.flaky_items")
    assert sorted(landed.column("id").to_pylist()) == list(range(1, ROWS + 1)), "failed tries left no rows"

    record = _record(airflow_env, "faulty_flaky")
    [ti] = record["tis"]
    assert (ti["state"], ti["try_number"], ti["max_tries"]) == ("success", 3, 3)
    assert [(h["try_number"], h["state"]) for h in record["history"]] == [(1, "failed"), (2, "failed")]
    # the waits Airflow scheduled: exactly min(1 * 2**(n-1), 300) s, no jitter, no rounding (airflow_bridge.retry)
    assert [h["retry_delay_override"] for h in record["history"]] == [1.0, 2.0]
    [xcom] = record["xcoms"]
    assert xcom["objects"][0]["rows_written"] == ROWS


def test_permanent_fault_fails_first_try_without_retry(airflow_env):
    proc = _dags_test(airflow_env, "faulty_permanent", DATIVO_TEST_FAIL_KIND="permanent")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "DagRun failed" in output
    assert "AirflowFailException" in output
    assert "permanent failure: PermissionError: injected permanent fault" in output

    record = _record(airflow_env, "faulty_permanent")
    [ti] = record["tis"]
    assert (ti["state"], ti["try_number"], ti["max_tries"]) == ("failed", 1, 3), "retries were available, unused"
    assert record["history"] == [] and record["xcoms"] == []
    assert len(_engine_runs(output)) == 1
