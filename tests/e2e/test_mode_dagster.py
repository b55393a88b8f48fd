"""`dagster` mode end to end: an Airflow task (`airflow dags test`, real task runner) launches the run on a
running `dagster dev` over GraphQL, follows it and pushes its metrics to XCom. Dagster owns the retries: a
transient fault is retried inside the Dagster run on the job's curve (RetryRequested), while the Airflow task
has retries=0 and runs exactly one try."""

from __future__ import annotations

import json

import pytest

from dativo_defs.config.loader import load_runner
from dativo_defs.instance import write_instance_config
from tests.airflow.helpers import AirflowEnv
from tests.airflow.test_mode_in_process import RUN_RECORD
from tests.e2e.servers import (base_env, free_port, graphql, start_dagster_dev, wait_dagster_ready, write_runner)
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow

ROWS = 120
FAIL_RUNS = 2
RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value }
  stepStats { stepKey status attempts { startTime } } } } }"""


def _project(root) -> tuple:
    (root / "data").mkdir()
    (root / "data" / "flaky.csv").write_text("id,name\n" + "".join(f"{i},f{i}\n" for i in range(ROWS)))
    (root / "jobs" / "dm").mkdir(parents=True)
    (root / "jobs" / "dm" / "flaky.yaml").write_text("""
tenant_id: dm
source:
  type: csv
  custom_reader: tests.engine.faults:FlakyFileSource
  files: [{path: ../../data/flaky.csv, object: flaky}]
target: {type: iceberg}
retry_config: {max_retries: 3, initial_delay_seconds: 1, backoff_multiplier: 2, max_delay_seconds: 30}
""")
    # owned by Airflow: Dagster keeps the schedule stopped; the Airflow task is what launches the run
    return write_runner(root, ["      - name: dm_flaky\n        config: ../jobs/dm/flaky.yaml\n"
                               "        cron: \"0 0 1 1 *\"\n        orchestrator: airflow"])


def test_airflow_task_runs_the_job_on_dagster_which_owns_the_retries(tmp_path):
    runner = _project(tmp_path)
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    write_instance_config(load_runner(runner), dagster_home)
    port = free_port()
    faults = dict(DATIVO_TEST_FAIL_FILE=str(tmp_path / "flaky.count"), DATIVO_TEST_FAIL_RUNS=str(FAIL_RUNS))
    server = start_dagster_dev(port, base_env(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(home),
                                              DAGSTER_HOME=str(dagster_home), **faults), tmp_path / "dagster_dev.log")
    airflow = AirflowEnv(root=tmp_path, project=tmp_path, airflow_home=tmp_path / "airflow_home",
                         dags_folder=tmp_path / "dags", dativo_home=home)
    airflow.dags_folder.mkdir()
    (airflow.dags_folder / "dativo_dags.py").write_text("from airflow_bridge.dags import *  # noqa\n")
    mode = dict(DATIVO_AIRFLOW_MODE="dagster", DATIVO_DAGSTER_URL=f"http://127.0.0.1:{port}")
    try:
        for args in (["db", "migrate"], ["pools", "set", "dativo_tenant_dm", "1", "dm"], ["dags", "reserialize"]):
            proc = airflow.airflow(*args, timeout=180, **mode)
            assert proc.returncode == 0, f"airflow {' '.join(args)}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        wait_dagster_ready(server, port, timeout=240)
        proc = airflow.airflow("dags", "test", "dm_flaky", timeout=400, **mode)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-6000:] + "\n--- dagster dev ---\n" + server.tail(60)
        record = airflow.json_from(RUN_RECORD, **mode)["dm_flaky"]
        [xcom] = record["xcoms"]
        run = graphql(port, RUN, {"id": xcom["dagster_run_id"]})["runOrError"]
    finally:
        server.stop()

    [ti] = record["tis"]
    assert (ti["state"], ti["try_number"], ti["max_tries"]) == ("success", 1, 0), "Airflow must not retry in dagster mode"
    assert record["history"] == []
    assert run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (tags["dagster-airlift/airflow-dag-id"], tags["dagster-airlift/airflow-task-id"]) == ("dm_flaky", "dm__flaky")
    [step] = run["stepStats"]
    assert len(step["attempts"]) == FAIL_RUNS + 1, "Dagster retried inside its run"
    assert (tmp_path / "flaky.count").read_text() == str(FAIL_RUNS + 1)
    [obj] = xcom["objects"]
    assert (obj["asset_key"], obj["rows_written"], obj["status"]) == ("dm/flaky/flaky", ROWS, "success")
    landed = read_iceberg(home, "dm.flaky")
    assert sorted(landed.column("id").to_pylist()) == list(range(ROWS))
    assert json.loads(next(l for l in output.splitlines() if l.startswith("dativo metrics: "))
                      .removeprefix("dativo metrics: ")) == xcom
