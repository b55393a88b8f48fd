"""File sources against real files: CSV, JSON lines and Parquet, local globs, and S3-compatible storage
(moto's server mode on loopback stands in for S3: nothing external is reachable here)."""

from __future__ import annotations


import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import read_iceberg

ROWS = [{"id": i, "name": f"n{i}", "score": i / 4, "ok": i % 2 == 0} for i in range(1, 1201)]


def _write(kind: str, folder, rows, name="part") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows)
    if kind == "csv":
        pacsv.write_csv(table, folder / f"{name}.csv")
    elif kind == "parquet":
        pq.write_table(table, folder / f"{name}.parquet")
    else:
        import json
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_each_format_lands_row_for_row(kind, write, dativo_home):
    folder = dativo_home.parent / "data"
    _write(kind, folder, ROWS[:700], "a")
    _write(kind, folder, ROWS[700:], "b")
    job = load_job(write(f"jobs/t5/{kind}.yaml", f"""
        tenant_id: t5
        source: {{type: {kind}, batch_rows: 250, files: [{{path: "../../data/*.{kind}", object: things}}]}}
        target: {{type: iceberg}}
    """))
    result = run_job(job)
    assert result.status is RunStatus.SUCCESS and result.rows_read == len(ROWS)
    landed = sorted(read_iceberg(dativo_home, "t5.things").to_pylist(), key=lambda r: r["id"])
    assert landed == ROWS


def test_missing_literal_file_is_permanent(write, dativo_home):
    result = run_job(load_job(write("jobs/t5/gone.yaml", """
        tenant_id: t5
        source: {type: csv, files: [{path: nowhere.csv}]}
        target: {type: iceberg}
    """)))
    assert result.error_kind == "permanent" and "nowhere.csv does not exist" in result.error


def test_s3_source_and_s3_warehouse(write, dativo_home, s3_endpoint):
    import fsspec

    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing-key",
                      aws_secret_access_key="testing-secret", region_name="us-east-1")
    s3.create_bucket(Bucket="landing")
    s3.create_bucket(Bucket="lake")
    fs = fsspec.filesystem("s3", key="testing-key", secret="testing-secret",
                           client_kwargs={"endpoint_url": s3_endpoint, "region_name": "us-east-1"})
    local = dativo_home.parent / "up"
    _write("csv", local, ROWS, "rows")
    fs.put(str(local / "rows.csv"), "landing/in/rows.csv")
    storage = (f"{{endpoint_url: '{s3_endpoint}', region: us-east-1, access_key_id: {{env: S3_KEY}}, "
               f"secret_access_key: {{env: S3_SECRET}}}}")
    job = load_job(write("jobs/t5/s3.yaml", f"""
        tenant_id: t5
        source: {{type: csv, files: [{{path: "s3://landing/in/*.csv", object: remote}}], storage: {storage}}}
        target:
          type: iceberg
          catalog: {{uri: "sqlite:///{dativo_home}/s3cat.db", warehouse: "s3://lake/wh"}}
          storage: {storage}
    """))
    dativo_home.mkdir(parents=True, exist_ok=True)
    result = run_job(job)
    assert result.status is RunStatus.SUCCESS, result.error
    assert result.rows_written == len(ROWS)
    assert fs.glob("lake/wh/**/*.parquet"), "data files must land in the S3 warehouse"
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("dativo", type="sql", uri=f"sqlite:///{dativo_home}/s3cat.db", **{
        "s3.endpoint": s3_endpoint, "s3.access-key-id": "testing-key", "s3.secret-access-key": "testing-secret",
        "s3.region": "us-east-1"})
    landed = sorted(catalog.load_table("t5.remote").scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert landed == ROWS
