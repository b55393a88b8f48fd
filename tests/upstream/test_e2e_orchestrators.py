"""End to end: an upstream-format project (recipes, assets, /app paths, upstream runner file) with CSV, PostgreSQL
and MySQL (MariaDB) jobs, run on Dagster (materialized in-process from the runner's definitions) and on Airflow
(`airflow dags test`, in_process mode); the rows are read back from Iceberg on each side."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_project
from tests.airflow.helpers import AirflowEnv, DAGS_FILE
from tests.conftest import need_server
from tests.engine.helpers import read_iceberg

from .project import job, upstream_project, write

pytestmark = pytest.mark.slow

NOW = datetime.now(timezone.utc).replace(tzinfo=None)
JOB = """
    tenant_id: acme
    environment: prod
    source_connector: {kind}
    source_connector_path: /app/connectors/{kind}.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: {asset}
    asset_path: /app/assets/{asset}.yaml
    source:
{source}
    target:
      warehouse: /app/lake
    retry_config: {{max_retries: 1, initial_delay_seconds: 1}}
"""
CUSTOMERS = """
    asset:
      name: customers
      source_type: mysql
      object: customers
      schema:
        - {name: id, type: bigint, required: true}
        - {name: email, type: string, classification: PII}
        - {name: updated_at, type: timestamp, required: true}
      governance: {owner: crm@acme.test}
"""
ORDERS = """
    asset:
      name: orders
      source_type: postgres
      object: orders
      schema:
        - {name: id, type: bigint, required: true}
        - {name: updated_at, type: timestamp, required: true}
        - {name: total, type: double}
      governance: {owner: sales@acme.test}
"""
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
EXPECTED = {"acme.people": [1, 2, 3], "acme.orders": list(range(1, 21)), "acme.customers": list(range(1, 16))}


@pytest.fixture(scope="module")
def databases():
    import adbc_driver_postgresql.dbapi as adbc_pg
    import pymysql

    name = f"dativo_up_{uuid.uuid4().hex[:8]}"
    try:
        admin = adbc_pg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    except Exception as exc:  # noqa: BLE001
        need_server(f"PostgreSQL on 127.0.0.1:5432: {str(exc).splitlines()[0]}")
    try:
        my = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        need_server(f"MariaDB on 127.0.0.1:3306: {exc}")
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    pg = adbc_pg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True)
    with pg.cursor() as cur:
        cur.execute("CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamp NOT NULL, total double precision)")
        for i in range(1, 21):
            cur.execute(f"INSERT INTO orders VALUES ({i}, '{(NOW - timedelta(minutes=i)).isoformat(sep=' ')}', {i * 2.5})")
    with my.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.customers (id bigint PRIMARY KEY, email varchar(100), updated_at datetime(6) NOT NULL)")
        for i in range(1, 16):
            cur.execute(f"INSERT INTO `{name}`.customers VALUES ({i}, 'c{i}@acme.test', '{(NOW - timedelta(minutes=i)).isoformat(sep=' ')}')")
    yield name
    pg.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()
    with my.cursor() as cur:
        cur.execute(f"DROP DATABASE `{name}`")
    my.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory, databases) -> Path:
    root = upstream_project(tmp_path_factory.mktemp("upstream") / "app")
    write(root / "assets/orders.yaml", ORDERS)
    write(root / "assets/customers.yaml", CUSTOMERS)
    write(root / "data/people.csv", "id;name;score\n1;ann;1.5\n2;bob;2.5\n3;cid;\n")
    job(root, "jobs/acme/people.yaml", JOB.format(kind="csv", asset="people", source="""\
      files: [{path: data/people.csv, object: people}]"""))
    job(root, "jobs/acme/orders.yaml", JOB.format(kind="postgres", asset="orders", source=f"""\
      tables: [{{name: public.orders, object: orders, cursor_field: updated_at}}]
      incremental: {{lookback_days: 1}}
      connection: {{host: 127.0.0.1, port: 5432, database: {databases}, user: postgres}}"""))
    job(root, "jobs/acme/customers.yaml", JOB.format(kind="mysql", asset="customers", source=f"""\
      tables: [{{name: customers, object: customers, cursor_field: updated_at}}]
      incremental: {{lookback_days: 1}}
      connection: {{host: 127.0.0.1, port: 3306, database: {databases}, user: root}}"""))
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
