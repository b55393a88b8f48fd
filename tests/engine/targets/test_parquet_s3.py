"""The Parquet dataset target on S3-compatible storage (moto's server on loopback stands in for S3): the same
all-or-nothing protocol as locally, with an exclusive create (If-None-Match) as the commit point."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from dativo_defs.engine.targets import parquet
from tests.engine import faults
from tests.engine.conftest import free_port

ROWS = [{"id": i, "name": f"n{i}", "score": i / 4, "ok": i % 2 == 0} for i in range(1, 1201)]
NEW_ROWS = [{"id": i, "name": f"n{i}", "score": i / 4, "ok": i % 2 == 0} for i in range(1201, 1501)]
DATASET = "lake/data/ids"


@pytest.fixture
def lake(s3_endpoint):
    """The S3 stand-in with a bucket `lake`."""
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing-key", aws_secret_access_key="testing-secret",
                 region_name="us-east-1").create_bucket(Bucket="lake")
    return s3_endpoint


@pytest.fixture
def s3(lake):
    """A filesystem of the test's own (no listing cache shared with the target) to read back what landed."""
    import s3fs

    return s3fs.S3FileSystem(key="testing-key", secret="testing-secret", skip_instance_cache=True,
                             use_listings_cache=False,
                             client_kwargs={"endpoint_url": lake, "region_name": "us-east-1"})


@pytest.fixture
def job(write, dativo_home, lake):
    dativo_home.mkdir(parents=True, exist_ok=True)
    _write_csv(dativo_home.parent / "data" / "a.csv", ROWS)
    return load_job(write("jobs/t1/ids.yaml", f"""
        tenant_id: t1
        source:
          type: csv
          batch_rows: 100
          files: [{{path: ../../data/*.csv, object: ids}}]
          incremental: {{strategy: file_modified_time}}
        target:
          type: parquet
          path: s3://lake/data
          storage: {{endpoint_url: '{lake}', region: us-east-1, access_key_id: {{env: S3_KEY}},
                     secret_access_key: {{env: S3_SECRET}}}}
    """))


def _write_csv(path, rows, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _landed(s3) -> list[dict]:
    """The dataset as a reader sees it (pyarrow skips `_`-prefixed paths), sorted by id."""
    return sorted(ds.dataset(DATASET, filesystem=s3, format="parquet").to_table().to_pylist(), key=lambda r: r["id"])


def _objects(s3, under: str) -> list[str]:
    return sorted(s3.find(f"{DATASET}/{under}"))


def _log(s3) -> list[dict]:
    return [json.loads(s3.cat_file(p)) for p in _objects(s3, "_dativo/commits")]


def _add_new_file(dativo_home) -> None:
    later = os.path.getmtime(dativo_home.parent / "data" / "a.csv") + 10
    _write_csv(dativo_home.parent / "data" / "b.csv", NEW_ROWS, mtime=later)


def test_runs_land_row_for_row_and_the_second_only_new_rows(job, dativo_home, s3):
    first = run_job(job)
    assert first.status is RunStatus.SUCCESS, first.error
    assert first.rows_written == len(ROWS) and first.objects[0].table == "s3://lake/data/ids"
    assert _landed(s3) == ROWS
    _add_new_file(dativo_home)
    second = run_job(job)
    assert second.status is RunStatus.SUCCESS and second.rows_written == len(NEW_ROWS), second.error
    assert _landed(s3) == ROWS + NEW_ROWS
    log = _log(s3)
    assert [e["run_id"] for e in log] == [first.run_id, second.run_id]
    assert [e["rows"] for e in log] == [len(ROWS), len(NEW_ROWS)]
    published = [p.rsplit("/", 1)[-1] for p in s3.glob(f"{DATASET}/part-*.parquet")]
    assert sorted(published) == sorted(f for e in log for f in e["files"])
    assert second.bytes_written == sum(s3.size(f"{DATASET}/{f}") for f in log[1]["files"])
    assert _objects(s3, "_staging") == []
    assert run_job(job).rows_written == 0  # state advanced exactly once


def test_fault_between_batches_commits_nothing_and_rerun_is_exact(job, s3, monkeypatch):
    faults.install(monkeypatch, fail_after=4)
    failed = run_job(job)
    assert failed.status is RunStatus.FAILED and failed.error_kind == "transient"
    assert "injected fault after 4 batches" in failed.error
    assert _objects(s3, "") == [], "a failed run leaves no commit entry, part file or staging"
    faults.install(monkeypatch)  # fault cleared
    ok = run_job(job)
    assert ok.status is RunStatus.SUCCESS and ok.rows_written == len(ROWS), ok.error
    assert _landed(s3) == ROWS
    assert len(_log(s3)) == 1 and _objects(s3, "_staging") == []


def test_a_taken_sequence_number_is_never_overwritten(job, dativo_home, s3, monkeypatch):
    first = run_job(job)
    assert first.status is RunStatus.SUCCESS, first.error
    commits = f"{DATASET}/_dativo/commits"
    # moto honours If-None-Match: an exclusive create of an existing key is refused, the object unchanged
    with pytest.raises(FileExistsError):
        s3.pipe_file(f"{commits}/000000000001.json", b"{}", mode="create")
    assert json.loads(s3.cat_file(f"{commits}/000000000001.json"))["run_id"] == first.run_id

    foreign = {"run_id": "other-host-run", "job": "t1/other", "files": [], "rows": 0, "state": None}
    attempts: list[str] = []
    create = parquet.ParquetTarget._create

    def racing_create(self, path, data):
        """Another writer commits the very number this run looked up, between the lookup and the create."""
        attempts.append(path.rsplit("/", 1)[-1])
        if len(attempts) == 1:
            s3.pipe_file(path, json.dumps(foreign).encode())
        return create(self, path, data)

    monkeypatch.setattr(parquet.ParquetTarget, "_create", racing_create)
    _add_new_file(dativo_home)
    second = run_job(job)
    assert second.status is RunStatus.SUCCESS and second.rows_written == len(NEW_ROWS), second.error
    assert attempts == ["000000000002.json", "000000000003.json"]
    log = _log(s3)
    assert [e["run_id"] for e in log] == [first.run_id, "other-host-run", second.run_id]
    assert log[1] == foreign, "the other writer's commit was overwritten"
    assert _landed(s3) == ROWS + NEW_ROWS
    assert run_job(job).rows_written == 0  # state read from this job's newest entry, not the foreign one


def test_a_committed_run_interrupted_before_publishing_is_rolled_forward(job, s3, monkeypatch):
    def crash(self, run_dir, base, files, replaces=()):
        raise ConnectionResetError("lost the connection after the commit point")

    with monkeypatch.context() as patch:
        patch.setattr(parquet.ParquetTarget, "_publish", crash)
        first = run_job(job)
    assert first.status is RunStatus.FAILED and first.error_kind == "transient"
    assert len(_log(s3)) == 1 and _objects(s3, "_staging"), "committed, files still staged"
    assert s3.glob(f"{DATASET}/part-*.parquet") == []
    rerun = run_job(job)
    assert rerun.status is RunStatus.SUCCESS and rerun.rows_written == 0, rerun.error  # state was committed
    assert _landed(s3) == ROWS
    assert _objects(s3, "_staging") == [] and len(_log(s3)) == 1


def test_uncommitted_staging_is_deleted_only_after_the_grace_period(job, s3, monkeypatch):
    dead = f"{DATASET}/_staging/dead-run/part-dead-run-00000.parquet"
    with s3.open(dead, "wb") as handle:
        pq.write_table(pa.Table.from_pylist(ROWS[:10]), handle)
    ok = run_job(job)
    assert ok.status is RunStatus.SUCCESS, ok.error
    assert _objects(s3, "_staging") == [dead], "staging of a run that may still be writing is kept"
    assert _landed(s3) == ROWS
    monkeypatch.setattr(parquet, "STAGING_GRACE_SECONDS", -1)  # any age now counts as abandoned
    assert run_job(job).rows_written == 0
    assert _objects(s3, "_staging") == []
    assert _landed(s3) == ROWS


def test_an_unreachable_endpoint_fails_as_transient_without_leaking_secrets(write, dativo_home, monkeypatch):
    monkeypatch.setenv("S3_SECRET", "very-secret-value")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _write_csv(dativo_home.parent / "data" / "a.csv", ROWS[:10])
    result = run_job(load_job(write("jobs/t1/down.yaml", f"""
        tenant_id: t1
        source: {{type: csv, files: [{{path: ../../data/*.csv, object: ids}}]}}
        target:
          type: parquet
          path: s3://lake/data
          storage: {{endpoint_url: 'http://127.0.0.1:{free_port()}', region: us-east-1,
                     access_key_id: testing-key, secret_access_key: {{env: S3_SECRET}}}}
    """)))
    assert result.status is RunStatus.FAILED and result.error_kind == "transient", result.error
    assert "very-secret-value" not in result.error
