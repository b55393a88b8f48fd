"""Incremental reads that lose and duplicate nothing (issue 10), end to end: real SQLite / PostgreSQL / MariaDB,
local and S3 (moto) files, a local HTTP API; every run goes through `run_job` into Iceberg (append mode), and the
landed rows are read back and compared as exact multisets (a duplicate shows as a count of 2)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import read_iceberg
from tests.engine.sources.fake_api import FakeApi
from tests.engine.sources.test_sql import BASE, TABLE, MariaBackend, PostgresBackend, SqliteBackend


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        (tmp_path / "jobs" / "t10").mkdir(parents=True, exist_ok=True)
        return SqliteBackend(tmp_path / "jobs" / "t10")  # the job file's folder: `database: shop.db` resolves there
    return (PostgresBackend if request.param == "postgres" else MariaBackend)(tmp_path, request)


def row(i: int, seconds: int) -> tuple[Any, ...]:
    return (i, f"name {i} 😀", i * 1.5, BASE + timedelta(seconds=seconds), None if i % 3 == 0 else f"note {i}")


def sql_job(write, db, name: str, incremental: str, table: str = "") -> Path:
    connection = db.connection()
    return write(f"jobs/t10/{name}.yaml", f"""
        tenant_id: t10
        source:
          type: {db.kind}
          connection: {connection}
          tables: [{table or "{name: " + TABLE + "}"}]
          incremental: {incremental}
        target: {{type: iceberg}}
    """)


def landed_ids(home: Path, table: str = f"t10.{TABLE}") -> Counter:
    return Counter(read_iceberg(home, table).column("id").to_pylist())


def run(job_file: Path) -> Any:
    result = run_job(load_job(job_file))
    assert result.status is RunStatus.SUCCESS, result.error
    return result


def test_equal_cursor_rows_inserted_between_runs_land_once(db, write, dativo_home, caplog):
    """`cursor >= last`, and the rows already landed at the boundary dropped by their row hash (no primary key)."""
    db.insert(TABLE, [row(i, i) for i in range(1, 6)] + [row(i, 100) for i in range(6, 11)])
    job = sql_job(write, db, "boundary", "{cursor_field: ts}")
    assert run(job).rows_written == 10
    db.insert(TABLE, [row(i, 100) for i in range(11, 16)])  # same cursor value as the last rows read
    assert run(job).rows_written == 5
    for _ in range(2):  # no source change: nothing appended
        assert run(job).rows_written == 0
    quiet = [r.getMessage() for r in caplog.records if '"event_type": "no_new_data"' in r.getMessage()]
    assert quiet and '"rows_already_landed": 10' in quiet[-1]  # the 10 rows at ts 100 were re-read and dropped
    db.insert(TABLE, [row(16, 101)])
    assert run(job).rows_written == 1
    assert landed_ids(dativo_home) == Counter(range(1, 17))


def test_out_of_order_integer_commit_within_the_lookback(db, write, dativo_home):
    """A long transaction commits ids below the integer cursor already read: `lookback: 10` (ids) re-reads them,
    and the rows of the window already landed are recognised by primary key (append mode)."""
    db.insert(TABLE, [row(i, i) for i in range(1, 21) if i not in (15, 16, 17)])
    job = sql_job(write, db, "late", "{cursor_field: id, lookback: 10}",
                  table="{name: " + TABLE + ", primary_key: [id]}")
    assert run(job).rows_written == 17
    db.insert(TABLE, [row(i, i) for i in (15, 16, 17)])  # committed late, below the cursor (20)
    assert run(job).rows_written == 3
    for _ in range(3):  # the window is re-read every run; nothing new is appended
        assert run(job).rows_written == 0
    db.insert(TABLE, [row(21, 21), row(11_000, 5)])
    assert run(job).rows_written == 2
    assert landed_ids(dativo_home) == Counter([*range(1, 22), 11_000])


def test_timestamp_lookback_over_runs_without_source_change(db, write, dativo_home):
    """`lookback` in seconds, no primary key (row hashes): runs 2-4 append nothing, a late row inside the window
    lands once, a late row older than the window is not read (the documented cost)."""
    db.insert(TABLE, [row(i, i * 10) for i in range(1, 31)])  # ts 10 .. 300 s
    job = sql_job(write, db, "window", "{cursor_field: ts, lookback: 60}")
    assert run(job).rows_written == 30
    for _ in range(3):
        assert run(job).rows_written == 0
    db.insert(TABLE, [row(100, 255), row(101, 100)])  # 255 s is inside [240, 300]; 100 s is not
    assert run(job).rows_written == 1
    assert run(job).rows_written == 0
    assert landed_ids(dativo_home) == Counter([*range(1, 31), 100])


def _csv(path: Path, rows: list[dict[str, Any]], mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _rows(first: int, last: int, ts: str = "2024-01-01T00:00:00") -> list[dict[str, Any]]:
    return [{"id": i, "ts": ts, "v": f"v{i}"} for i in range(first, last + 1)]


def test_old_mtime_file_added_late_is_read(write, dativo_home):
    data = dativo_home.parent / "data"
    _csv(data / "a.csv", _rows(1, 500))
    _csv(data / "b.csv", _rows(501, 1000))
    job = write("jobs/t10/files.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: ../../data/*.csv, object: events}], incremental: {strategy: file_modified_time}}
        target: {type: iceberg}
    """)
    assert run(job).rows_written == 1000
    _csv(data / "old.csv", _rows(1001, 1500), mtime=946684800)  # `cp -p` of a file from 2000
    assert run(job).rows_written == 500
    assert run(job).rows_written == 0
    assert landed_ids(dativo_home, "t10.events") == Counter(range(1, 1501))


def test_s3_files_land_once_by_etag(write, dativo_home, s3_endpoint):
    import boto3
    import fsspec

    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing-key", aws_secret_access_key="testing-secret",
                 region_name="us-east-1").create_bucket(Bucket="landing")
    fs = fsspec.filesystem("s3", key="testing-key", secret="testing-secret",
                           client_kwargs={"endpoint_url": s3_endpoint, "region_name": "us-east-1"})
    local = dativo_home.parent / "up"
    _csv(local / "a.csv", _rows(1, 300))
    _csv(local / "b.csv", _rows(301, 400))
    fs.put(str(local / "a.csv"), "landing/in/a.csv")
    storage = (f"{{endpoint_url: '{s3_endpoint}', region: us-east-1, access_key_id: {{env: S3_KEY}}, "
               f"secret_access_key: {{env: S3_SECRET}}}}")
    job = write("jobs/t10/s3.yaml", f"""
        tenant_id: t10
        source: {{type: csv, files: [{{path: "s3://landing/in/*.csv", object: events}}], storage: {storage},
                 incremental: {{strategy: file_modified_time}}}}
        target: {{type: iceberg}}
    """)
    assert run(job).rows_written == 300
    fs.put(str(local / "b.csv"), "landing/in/b.csv")
    assert run(job).rows_written == 100
    assert run(job).rows_written == 0
    fs.put(str(local / "a.csv"), "landing/in/a.csv")  # re-uploaded unchanged (a sync tool): newer mtime, same ETag
    assert run(job).rows_written == 0
    assert landed_ids(dativo_home, "t10.events") == Counter(range(1, 401))


def test_files_with_a_cursor_column_keep_boundary_rows(write, dativo_home):
    data = dativo_home.parent / "data"
    _csv(data / "a.csv", _rows(1, 10, "2024-01-01T00:00:00") + _rows(11, 20, "2024-01-02T00:00:00"))
    job = write("jobs/t10/cursorfiles.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: ../../data/*.csv, object: events}], incremental: {cursor_field: ts}}
        target: {type: iceberg}
    """)
    assert run(job).rows_written == 20
    _csv(data / "b.csv", _rows(21, 25, "2024-01-02T00:00:00") + _rows(26, 26, "2024-01-03T00:00:00"))
    assert run(job).rows_written == 6
    assert run(job).rows_written == 0
    assert landed_ids(dativo_home, "t10.events") == Counter(range(1, 27))


def test_typod_glob_is_a_permanent_error_naming_the_nearest_path(write, dativo_home):
    _csv(dativo_home.parent / "jobs" / "t10" / "data" / "orders_1.csv", _rows(1, 3))
    job = write("jobs/t10/typo.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: dta/orders*.csv, object: orders}]}
        target: {type: iceberg}
    """)
    result = run_job(load_job(job))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert "dta/orders*.csv matches no file" in result.error
    assert "nearest existing path:" in result.error and "t10/data" in result.error
    empty = write("jobs/t10/empty.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: data/none*.csv, object: orders, allow_empty: true}]}
        target: {type: iceberg}
    """)
    assert run(empty).rows_written == 0


def test_a_glob_that_stops_matching_says_so(write, dativo_home):
    data = dativo_home.parent / "data"
    _csv(data / "a.csv", _rows(1, 5))
    job = write("jobs/t10/gone.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: ../../data/*.csv, object: events}], incremental: {strategy: file_modified_time}}
        target: {type: iceberg}
    """)
    assert run(job).rows_written == 5
    (data / "a.csv").unlink()
    result = run_job(load_job(job))
    assert result.error_kind == "permanent" and "matches no file any more" in result.error


def test_rest_boundary_records_over_three_runs_in_append_mode(write, dativo_home):
    """Records are re-read from `updated >= cursor` on purpose; those already landed are dropped by their hash."""
    api = FakeApi(count=0).start()
    try:
        api.raw = [{"id": i, "updated": u} for i, u in [(1, 1), (2, 2), (3, 5), (4, 5)]]
        job = write("jobs/t10/rest.yaml", f"""
            tenant_id: t10
            source:
              type: rest
              base_url: {api.url}
              resources: [{{object: things, path: /raw, cursor_field: updated}}]
            target: {{type: iceberg}}
        """)
        assert run(job).rows_written == 4
        api.raw += [{"id": 5, "updated": 5}, {"id": 6, "updated": 5}, {"id": 7, "updated": 6}]
        assert run(job).rows_written == 3
        assert run(job).rows_written == 0
    finally:
        api.stop()
    assert landed_ids(dativo_home, "t10.things") == Counter(range(1, 8))


def test_a_boundary_larger_than_the_state_bound_narrows_loudly_and_never_duplicates(write, dativo_home, caplog):
    """10,005 rows share one cursor value (> MAX_REMEMBERED_ROWS): the state cannot key them all, so the next
    read starts after that value — no duplicate, and a `lookback_narrowed` warning says what is not re-read."""
    folder = dativo_home.parent / "jobs" / "t10"
    folder.mkdir(parents=True, exist_ok=True)
    db = SqliteBackend(folder)
    db.insert(TABLE, [row(i, 50) for i in range(1, 10_006)])
    job = sql_job(write, db, "wide", "{cursor_field: ts}")
    with caplog.at_level("WARNING", logger="dativo"):
        assert run(job).rows_written == 10_005
    assert any('"event_type": "lookback_narrowed"' in r.getMessage() for r in caplog.records)
    assert run(job).rows_written == 0
    db.insert(TABLE, [row(20_000, 51)])
    assert run(job).rows_written == 1
    assert landed_ids(dativo_home) == Counter([*range(1, 10_006), 20_000])


def test_merge_mode_with_a_primary_key_rereads_the_window_without_duplicates(write, dativo_home):
    """Merge mode with a primary key and a lookback: runs without source change write nothing, a late row lands
    once, and an updated row (new cursor value) replaces its old version."""
    folder = dativo_home.parent / "jobs" / "t10"
    folder.mkdir(parents=True, exist_ok=True)
    db = SqliteBackend(folder)
    db.insert(TABLE, [row(i, i) for i in range(1, 21)])
    job = write("jobs/t10/merge.yaml", f"""
        tenant_id: t10
        source:
          type: sqlite
          connection: {{database: shop.db}}
          tables: [{{name: {TABLE}, primary_key: [id]}}]
          incremental: {{cursor_field: ts, lookback: 5}}
        target: {{type: iceberg, mode: merge}}
    """)
    assert run(job).rows_written == 20
    assert run(job).rows_written == 0
    db.db.execute(f"UPDATE {TABLE} SET name = 'changed', ts = ? WHERE id = 18",
                  (db.value(BASE + timedelta(seconds=21)),))
    db.insert(TABLE, [row(30, 17)])  # late, inside the window
    db.db.commit()
    assert run(job).rows_written == 2
    landed = read_iceberg(dativo_home, f"t10.{TABLE}").to_pylist()
    assert Counter(r["id"] for r in landed) == Counter([*range(1, 21), 30])
    assert next(r["name"] for r in landed if r["id"] == 18) == "changed"
