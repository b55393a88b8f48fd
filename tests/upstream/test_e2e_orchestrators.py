"""End to end: an upstream-format project (recipes, assets, /app paths, upstream runner file) with CSV, PostgreSQL
and MySQL (MariaDB) jobs, run on Dagster (materialized in-process from the runner's definitions) and on Airflow
(`airflow dags test`, in_process mode); the rows are read back from Iceberg on each side."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_defs.config.loader import load_project
from tests.airflow.helpers import AirflowEnv, DAGS_FILE
from tests.engine.helpers import read_iceberg

from .e2e_jobs import source_databases, upstream_jobs, write_upstream_jobs
from .project import write

pytestmark = pytest.mark.slow

RUNNER = """
    runner:
      mode: orchestrated
      orchestrator:
        type: dagster
        schedules:
          - {name: people_daily, config: /app/jobs/acme/people.yaml, cron: "0 1 * * *", enabled: true, timezone: UTC,
             max_concurrent_runs: 1, tags: {environment: production}}
          - {name: orders_hourly, config: /app/jobs/acme/orders.yaml, cron: "0 * * * *", timezone: UTC}
          - {name: customers_6h, config: /app/jobs/acme/customers.yaml, interval_seconds: 21600, timezone: America/New_York}
        concurrency_per_tenant: 1
"""
JOBS = upstream_jobs()
EXPECTED = {entry.table: list(entry.ids) for entry in JOBS}


@pytest.fixture(scope="module")
def databases():
    with source_databases() as name:
        yield name


@pytest.fixture(scope="module")
def project(tmp_path_factory, databases) -> Path:
    root = write_upstream_jobs(tmp_path_factory.mktemp("upstream") / "app", databases, JOBS)
    write(root / "configs/runner.yaml", RUNNER)
    return root


def test_dagster_runs_the_upstream_project(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import DagsterInstance, materialize

    from dativo_defs.assets import build_job_assets

    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)  # the folder holding connectors/ is the app root
    loaded = load_project(project / "configs/runner.yaml")
    assert loaded.ok, loaded.issues
    assert [e.schedule.name for e in loaded.scheduled] == ["people_daily", "orders_hourly", "customers_6h"]
    with DagsterInstance.ephemeral() as instance:
        for entry in loaded.scheduled:
            assert entry.job.upstream is not None
            result = materialize([build_job_assets(entry.job)], instance=instance, raise_on_error=False)
            assert result.success, entry.schedule.name
    for table, ids in EXPECTED.items():
        assert sorted(read_iceberg(tmp_path / "home", table).column("id").to_pylist()) == ids, table
    # second round: the incremental jobs re-read nothing (first-run window only), the CSV job re-reads its file
    with DagsterInstance.ephemeral() as instance:
        for entry in loaded.scheduled[1:]:
            assert materialize([build_job_assets(entry.job)], instance=instance).success
    for table in ("acme.orders", "acme.customers"):
        assert sorted(read_iceberg(tmp_path / "home", table).column("id").to_pylist()) == EXPECTED[table]


def test_airflow_runs_the_upstream_project(project: Path, tmp_path: Path) -> None:
    env = AirflowEnv(root=tmp_path, project=project, airflow_home=tmp_path / "airflow_home", dags_folder=tmp_path / "dags",
                     dativo_home=tmp_path / "home")
    for folder in (env.airflow_home, env.dags_folder, env.dativo_home):
        folder.mkdir(parents=True, exist_ok=True)
    (env.dags_folder / "dativo_dags.py").write_text(DAGS_FILE)
    for args in (["db", "migrate"], ["pools", "set", "dativo_tenant_acme", "1", "acme"], ["dags", "reserialize"]):
        proc = env.airflow(*args, timeout=240)
        assert proc.returncode == 0, f"airflow {' '.join(args)}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    for dag_id in ("people_daily", "orders_hourly", "customers_6h"):
        proc = env.airflow("dags", "test", dag_id, timeout=240, DATIVO_AIRFLOW_MODE="in_process")
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    for table, ids in EXPECTED.items():
        assert sorted(read_iceberg(env.dativo_home, table).column("id").to_pylist()) == ids, table
