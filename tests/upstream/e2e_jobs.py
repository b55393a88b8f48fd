"""The upstream-format jobs the end-to-end runs use: a CSV file, a PostgreSQL table and a MariaDB table, each
loaded into Iceberg by a job in upstream's format (recipes through source_connector_path/target_connector_path,
an asset file, /app paths), with the source databases on the machine's real servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import need_server, postgres_database

from .project import job, upstream_project, write

NOW = datetime.now(UTC).replace(tzinfo=None)
JOB = """
    tenant_id: {tenant}
    environment: prod
    source_connector: {kind}
    source_connector_path: /app/connectors/{kind}.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: {name}
    asset_path: /app/assets/{name}.yaml
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
ORDER_ROWS, CUSTOMER_ROWS = 20, 15


@dataclass(frozen=True)
class UpstreamJob:
    name: str  # the job file's stem: dativo's job name, the object and the Iceberg table's name
    kind: str  # the source recipe
    tenant: str
    ids: tuple[int, ...]  # the `id`s the source holds

    @property
    def config(self) -> str:
        """The job file as an upstream runner names it."""
        return f"/app/jobs/{self.tenant}/{self.name}.yaml"

    @property
    def table(self) -> str:
        return f"{self.tenant}.{self.name}"

    @property
    def asset_job(self) -> str:
        """Its Dagster asset job (and manual Airflow DAG) name."""
        return f"{self.tenant}__{self.name}_job"


def upstream_jobs(tenants: tuple[str, str, str] = ("acme", "acme", "acme")) -> list[UpstreamJob]:
    """The CSV, PostgreSQL and MariaDB jobs, with the tenant of each."""
    return [UpstreamJob("people", "csv", tenants[0], (1, 2, 3)),
            UpstreamJob("orders", "postgres", tenants[1], tuple(range(1, ORDER_ROWS + 1))),
            UpstreamJob("customers", "mysql", tenants[2], tuple(range(1, CUSTOMER_ROWS + 1)))]


@contextlib.contextmanager
def source_databases() -> Iterator[str]:
    """A PostgreSQL database holding `orders` and a MariaDB database holding `customers`, both of the yielded
    name and dropped afterwards. Skips locally / fails under CI when a server is missing."""
    import psycopg2
    import pymysql

    try:
        my = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        need_server(f"MariaDB on 127.0.0.1:3306: {exc}")
    with postgres_database("dativo_up") as name:
        pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name)
        with pg, pg.cursor() as cur:
            cur.execute("CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamp NOT NULL, total double precision)")
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s)",
                            [(i, NOW - timedelta(minutes=i), i * 2.5) for i in range(1, ORDER_ROWS + 1)])
        pg.close()
        try:
            with my.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}`")
                cur.execute(f"CREATE TABLE `{name}`.customers (id bigint PRIMARY KEY, email varchar(100), "
                            "updated_at datetime(6) NOT NULL)")
                cur.executemany(f"INSERT INTO `{name}`.customers VALUES (%s, %s, %s)",
                                [(i, f"c{i}@acme.test", NOW - timedelta(minutes=i)) for i in range(1, CUSTOMER_ROWS + 1)])
            yield name
        finally:
            with my.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            my.close()


def write_upstream_jobs(app: Path, database: str, jobs: list[UpstreamJob]) -> Path:
    """The upstream project (recipes, assets) under `app` (upstream's /app) plus the three job files; returns app."""
    upstream_project(app)
    write(app / "assets/orders.yaml", ORDERS)
    write(app / "assets/customers.yaml", CUSTOMERS)
    write(app / "data/people.csv", "id;name;score\n1;ann;1.5\n2;bob;2.5\n3;cid;\n")
    sources = {
        "csv": "      files: [{path: data/people.csv, object: people}]",
        "postgres": f"""\
      tables: [{{name: public.orders, object: orders, cursor_field: updated_at}}]
      incremental: {{lookback_days: 1}}
      connection: {{host: 127.0.0.1, port: 5432, database: {database}, user: postgres}}""",
        "mysql": f"""\
      tables: [{{name: customers, object: customers, cursor_field: updated_at}}]
      incremental: {{lookback_days: 1}}
      connection: {{host: 127.0.0.1, port: 3306, database: {database}, user: root}}""",
    }
    for entry in jobs:
        job(app, entry.config.removeprefix("/app/"),
            JOB.format(tenant=entry.tenant, kind=entry.kind, name=entry.name, source=sources[entry.kind]))
    return app
