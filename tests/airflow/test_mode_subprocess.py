"""`subprocess` mode: the task runs `dativo run --json` in a child process. Airflow owns the retries and honours
the job's `retry_config.retryable_exit_codes`: exit 3 (transient) is retried after exactly the job's curve when
3 is listed, and fails the first try when the list is empty. Data lands and the metrics reach XCom."""

from __future__ import annotations

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, make_airflow_env
from tests.airflow.test_mode_in_process import FAULTY_JOB, ROWS, RUN_RECORD, _engine_runs
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> AirflowEnv:
    env = make_airflow_env(tmp_path_factory.mktemp("mode_subprocess"))
    jobs = env.project / "jobs" / "faulty"
    (jobs / "data").mkdir(parents=True)
    (jobs / "data" / "items.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, ROWS + 1)))
    (jobs / "retried.yaml").write_text(FAULTY_JOB.format(object="retried_items"))
    (jobs / "not_retried.yaml").write_text(FAULTY_JOB.format(object="not_retried_items")
                                           + "  retryable_exit_codes: []\n")
    add_schedules(env, """
        - name: sub_retried
          config: ../jobs/faulty/retried.yaml
          cron: "0 3 * * *"
        - name: sub_not_retried
          config: ../jobs/faulty/not_retried.yaml
          cron: "0 4 * * *"
    """)
    for args in (["db", "migrate"], ["pools", "set", "dativo_tenant_faulty", "1", "faulty"],
                 ["dags", "reserialize"]):
        proc = env.airflow(*args, timeout=180, DATIVO_AIRFLOW_MODE="subprocess")
        assert proc.returncode == 0, f"airflow {' '.join(args)}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return env


def _dags_test(env: AirflowEnv, dag_id: str, counter, **extra: str):
    return env.airflow("dags", "test", dag_id, timeout=300, DATIVO_AIRFLOW_MODE="subprocess",
                       DATIVO_TEST_FAIL_FILE=str(counter), DATIVO_TEST_FAIL_AFTER="2", **extra)


def test_listed_exit_code_is_retried_on_the_exact_curve(airflow_env):
    counter = airflow_env.root / "retried-runs"
    proc = _dags_test(airflow_env, "sub_retried", counter, DATIVO_TEST_FAIL_RUNS="2")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert counter.exists(), output[-5000:]
    assert counter.read_text() == "3" and len(_engine_runs(output)) == 3
    assert output.count("dativo run exited 3") >= 2
    record = airflow_env.json_from(RUN_RECORD)["sub_retried"]
    [ti] = record["tis"]
    assert (ti["state"], ti["try_number"]) == ("success", 3)
    assert [h["retry_delay_override"] for h in record["history"]] == [1.0, 2.0]
    [xcom] = record["xcoms"]
    assert xcom["status"] == "success" and xcom["rows_written"] == ROWS
    landed = read_iceberg(airflow_env.dativo_home, "faulty.retried_items")
    assert sorted(landed.column("id").to_pylist()) == list(range(1, ROWS + 1))


def test_exit_code_not_listed_fails_fast(airflow_env):
    counter = airflow_env.root / "not-retried-runs"
    proc = _dags_test(airflow_env, "sub_not_retried", counter, DATIVO_TEST_FAIL_RUNS="5")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "AirflowFailException" in output and "dativo run exited 3" in output
    record = airflow_env.json_from(RUN_RECORD)["sub_not_retried"]
    [ti] = record["tis"]
    assert (ti["state"], ti["try_number"], ti["max_tries"]) == ("failed", 1, 3), "retries were available, unused"
    assert counter.read_text() == "1" and record["history"] == []
