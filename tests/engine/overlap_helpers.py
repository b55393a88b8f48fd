"""Targets and child runs for the overlap, maintenance and chaos tests: the same job on every backend a user
has (embedded SQLite catalog, SQL catalog on PostgreSQL, local Parquet, Parquet on S3), read back through the
backend itself."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from pyiceberg.catalog import load_catalog

from tests.conftest import REPO, postgres_database

BACKENDS = ("iceberg-sqlite", "iceberg-postgres", "iceberg-s3", "parquet-local", "parquet-s3")


def write_rows(path: Path, ids: range) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        writer.writerows((i, f"row {i}") for i in ids)


@dataclass
class Backend:
    kind: str
    home: Path
    target_yaml: str
    catalog_props: dict | None = None
    s3_options: dict | None = None

    def catalog(self):
        return load_catalog("dativo", **self.catalog_props)

    def read(self, table: str = "t1.ids", dataset: str = "t1/ids") -> pa.Table:
        if self.catalog_props is not None:
            return self.catalog().load_table(table).scan().to_arrow()
        if self.s3_options is not None:
            import s3fs

            fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False, **self.s3_options)
            return ds.dataset(f"lake/{dataset.split('/', 1)[1]}", filesystem=fs, format="parquet").to_table()
        return ds.dataset(str(self.home / "parquet" / dataset), format="parquet").to_table()


def make_backend(kind: str, home: Path, request) -> Backend:
    home.mkdir(parents=True, exist_ok=True)
    if kind == "iceberg-sqlite":
        return Backend(kind, home, "{type: iceberg, orphan_grace_seconds: 0}",
                       {"type": "sql", "uri": f"sqlite:///{home / 'catalog.db'}", "warehouse": (home / "warehouse").as_uri()})
    if kind == "iceberg-postgres":
        uri = postgres_catalog_uri(request)
        warehouse = (home / "pg-warehouse").as_uri()
        return Backend(kind, home, f"{{type: iceberg, orphan_grace_seconds: 0, catalog: {{type: sql, uri: '{uri}', "
                                   f"warehouse: '{warehouse}'}}}}", {"type": "sql", "uri": uri, "warehouse": warehouse})
    if kind == "parquet-local":
        return Backend(kind, home, "{type: parquet}")
    endpoint = request.getfixturevalue("s3_endpoint")
    import boto3

    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing-key", aws_secret_access_key="testing-secret",
                 region_name="us-east-1").create_bucket(Bucket="lake")
    storage = (f"storage: {{endpoint_url: '{endpoint}', region: us-east-1, access_key_id: {{env: S3_KEY}}, "
               f"secret_access_key: {{env: S3_SECRET}}}}")
    if kind == "iceberg-s3":  # a SQL catalog (SQLite file) with its warehouse on S3
        uri = f"sqlite:///{home / 'catalog.db'}"
        return Backend(kind, home, f"{{type: iceberg, orphan_grace_seconds: 0, catalog: {{type: sql, uri: '{uri}', "
                                   f"warehouse: 's3://lake/warehouse'}}, {storage}}}",
                       {"type": "sql", "uri": uri, "warehouse": "s3://lake/warehouse", "s3.endpoint": endpoint,
                        "s3.region": "us-east-1", "s3.access-key-id": "testing-key",
                        "s3.secret-access-key": "testing-secret"})
    return Backend(kind, home, f"{{type: parquet, path: 's3://lake', storage: {{endpoint_url: '{endpoint}', "
                               f"region: us-east-1, access_key_id: {{env: S3_KEY}}, secret_access_key: {{env: S3_SECRET}}}}}}",
                   s3_options={"key": "testing-key", "secret": "testing-secret",
                               "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}})


def postgres_catalog_uri(request) -> str:
    """A SQL catalog in a fresh PostgreSQL database, dropped after the test."""
    stack = contextlib.ExitStack()
    request.addfinalizer(stack.close)
    name = stack.enter_context(postgres_database("dativo_cat"))
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def job_file(root: Path, backend: Backend, name: str = "ids", obj: str = "ids", data: str = "data/ids-*.csv",
             extra: str = "") -> Path:
    path = root / "jobs" / "t1" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        tenant_id: t1
        source:
          type: csv
          batch_rows: 100
          files: [{{path: ../../{data}, object: {obj}}}]
          incremental: {{strategy: cursor, cursor_field: id}}
        target: {backend.target_yaml}
        retry_config: {{max_retries: 0}}
        {extra}
    """))
    return path


@dataclass
class Child:
    process: subprocess.Popen
    job: Path

    def result(self, timeout: float = 120) -> tuple[int, dict]:
        out, err = self.process.communicate(timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return self.process.returncode, (json.loads(lines[-1]) if lines else {"stderr_tail": err[-2000:]})


def start_run(job: Path, sleep: float, home: Path, *flags: str, barrier: str | None = None) -> Child:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATIVO_HOME": str(home)}
    if barrier:
        env["DATIVO_TEST_BARRIER"] = barrier
    process = subprocess.Popen([sys.executable, "-m", "tests.engine.slow_run", str(job), str(sleep), *flags],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Child(process, job)


def run_together(job: Path, home: Path, n: int, sleep: float, stagger: float = 0.0) -> list[tuple[int, dict]]:
    """n runs of `job`. Without `stagger` they start together: each waits, after reading its state, until all n
    have (a barrier), so they overlap on any machine. With `stagger` they start that many seconds apart."""
    barrier = None
    if not stagger:
        folder = home / f"barrier-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        barrier = f"{folder}:{n}"
    children = []
    for i in range(n):
        children.append(start_run(job, sleep, home, barrier=barrier))
        if stagger:
            time.sleep(stagger)
    return [child.result() for child in children]


def ids_of(table: pa.Table) -> list[int]:
    return sorted(int(i) for i in table.column("id").to_pylist())
