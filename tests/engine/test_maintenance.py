"""State and files survive table maintenance: snapshot expiry, foreign compaction and appends, a run killed
right after its commit, torn journals, and `dativo maintain` running beside the job. Data read back by key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from dativo_defs.engine.targets.iceberg_journal import JOURNAL_DIR, list_files
from dativo_defs.engine.targets.iceberg_maintenance import referenced_files
from tests.conftest import REPO
from tests.engine.overlap_helpers import ids_of, job_file, make_backend, start_run, write_rows


@pytest.fixture(params=["iceberg-sqlite", "iceberg-postgres"])
def backend(request, tmp_path):
    return make_backend(request.param, tmp_path / "home", request)


@pytest.fixture
def home_env(backend, monkeypatch):
    monkeypatch.setenv("DATIVO_HOME", str(backend.home))
    return backend


def _expire_all_but_current(table) -> None:
    table.refresh()
    current = table.current_snapshot().snapshot_id
    old = [s.snapshot_id for s in table.metadata.snapshots if s.snapshot_id != current]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()


def _foreign_rows(ids: range) -> pa.Table:
    return pa.table({"id": pa.array(list(ids), pa.int64()), "name": pa.array([f"foreign {i}" for i in ids], pa.string())})


def test_expiry_and_foreign_compaction_keep_the_cursor(home_env, tmp_path):
    backend = home_env
    job = load_job(job_file(tmp_path, backend))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 1000))
    assert run_job(job).rows_written == 1000
    table = backend.catalog().load_table("t1.ids")
    table.append(_foreign_rows(range(50_000, 50_100)))  # another engine appends to the shared table
    table.refresh()
    table.overwrite(table.scan().to_arrow())  # and compacts it: every file rewritten, dativo's snapshot gone
    _expire_all_but_current(table)
    table.refresh()
    assert len(table.metadata.snapshots) == 1
    assert all(s.summary["dativo.job"] != "t1/ids" for s in table.metadata.snapshots)

    write_rows(tmp_path / "data/ids-001.csv", range(1000, 1300))
    second = run_job(job)
    assert second.status.value == "success" and second.rows_written == 300, second.error
    assert second.objects[0].cursor_before == 999
    assert ids_of(backend.read()) == list(range(1300)) + list(range(50_000, 50_100))


def test_state_of_the_older_layout_migrates_on_the_next_run(home_env, tmp_path):
    """A table written before state moved to properties: state only in a snapshot summary."""
    backend = home_env
    catalog = backend.catalog()
    catalog.create_namespace_if_not_exists("t1")
    table = catalog.create_table("t1.ids", schema=_foreign_rows(range(0)).schema)
    table.append(_foreign_rows(range(0, 500)), snapshot_properties={
        "dativo.job": "t1/ids", "dativo.run_id": "old-run", "dativo.state": json.dumps({"cursor": 499})})
    job = load_job(job_file(tmp_path, backend))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 500))  # the rows the old run landed

    first = run_job(job)  # nothing new, but the state is written as a property (one commit)
    assert first.rows_written == 0 and first.objects[0].cursor_before == 499
    table.refresh()
    assert json.loads(table.properties["dativo.state.t1/ids"])["state"] == {"cursor": 499}
    _expire_all_but_current(table)
    table.append(_foreign_rows(range(90_000, 90_010)))
    _expire_all_but_current(table)
    write_rows(tmp_path / "data/ids-001.csv", range(500, 600))
    second = run_job(job)
    assert second.rows_written == 100 and second.objects[0].cursor_before == 499
    assert ids_of(backend.read()) == list(range(600)) + list(range(90_000, 90_010))


def test_no_empty_snapshots_when_nothing_is_new(home_env, tmp_path):
    backend = home_env
    job = load_job(job_file(tmp_path, backend))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 100))
    run_job(job)
    snapshots = len(backend.catalog().load_table("t1.ids").metadata.snapshots)
    for _ in range(3):
        result = run_job(job)
        assert result.rows_written == 0 and result.objects[0].snapshot_id is None
    assert len(backend.catalog().load_table("t1.ids").metadata.snapshots) == snapshots


@pytest.mark.parametrize("kind", ["iceberg-sqlite", "iceberg-postgres", "iceberg-s3"])
def test_kill_after_commit_then_foreign_append_and_expiry_keeps_the_table_readable(kind, tmp_path, request,
                                                                                   monkeypatch):
    backend = make_backend(kind, tmp_path / "home", request)
    monkeypatch.setenv("DATIVO_HOME", str(backend.home))
    job = job_file(tmp_path, backend)
    write_rows(tmp_path / "data/ids-000.csv", range(0, 800))
    child = start_run(job, 0, backend.home, "die-after-commit")
    code, _ = child.result()
    assert code == -9, "the child should have been killed right after its commit"
    table = backend.catalog().load_table("t1.ids")
    location = table.location().rstrip("/")

    def journals() -> list[str]:
        return [p for p, _ in list_files(table.io, f"{location}/{JOURNAL_DIR}", recursive=True)]

    assert journals(), "the killed run's journal should remain"
    table.append(_foreign_rows(range(70_000, 70_050)))  # another writer, then expiry: the run id is gone
    _expire_all_but_current(table)

    write_rows(tmp_path / "data/ids-001.csv", range(800, 900))
    result = run_job(load_job(job))  # sweeps the dead run's journal (grace 0) and must keep its files
    assert result.status.value == "success" and result.rows_written == 100, result.error
    table.refresh()
    assert ids_of(table.scan().to_arrow()) == list(range(900)) + list(range(70_000, 70_050))
    referenced = referenced_files(table)
    data_files = {p for p, _ in list_files(table.io, f"{location}/data", recursive=True)}
    assert data_files <= referenced, sorted(data_files - referenced)
    assert not journals(), "journals left behind"


@pytest.mark.parametrize("torn", [b"", b'{"run_id": "torn", "files": ["file:///x'])
def test_a_torn_journal_of_the_older_layout_is_recovered(home_env, tmp_path, torn):
    backend = home_env
    job = load_job(job_file(tmp_path, backend))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 100))
    run_job(job)
    root = Path(backend.catalog().load_table("t1.ids").location().removeprefix("file://"))
    orphan = root / "data" / "dativo-torn-00000.parquet"
    orphan.write_bytes(b"PAR1 partial")
    journal = root / JOURNAL_DIR / "torn.json"
    journal.parent.mkdir(exist_ok=True)
    journal.write_bytes(torn)
    old = time.time() - 3600
    os.utime(journal, (old, old))

    write_rows(tmp_path / "data/ids-001.csv", range(100, 150))
    result = run_job(job)
    assert result.status.value == "success" and result.rows_written == 50
    assert not journal.exists() and not orphan.exists()
    assert ids_of(backend.read()) == list(range(150))


def test_dativo_maintain_beside_a_running_job(home_env, tmp_path):
    backend = home_env
    job = job_file(tmp_path, backend)
    for n in range(6):  # six runs: six small files, six snapshots
        write_rows(tmp_path / f"data/ids-{n:03d}.csv", range(n * 100, n * 100 + 100))
        assert run_job(load_job(job)).rows_written == 100
    table = backend.catalog().load_table("t1.ids")
    root = Path(table.location().removeprefix("file://"))
    stray = root / "data" / "left-by-someone.parquet"
    stray.write_bytes(b"not referenced")

    write_rows(tmp_path / "data/ids-006.csv", range(600, 1600))
    running = start_run(job, 0.15, backend.home)  # 10 batches: maintenance runs while it reads and commits
    time.sleep(2.5)
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATIVO_HOME": str(backend.home)}
    maintained = subprocess.run([str(Path(sys.executable).parent / "dativo"), "maintain", "--config", str(job),
                                 "--older-than", "0", "--orphan-grace", "0", "--json"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    code, result = running.result()
    assert maintained.returncode == 0, maintained.stderr[-2000:]
    report = json.loads(maintained.stdout.strip().splitlines()[-1])
    assert report["files_compacted"] >= 2 and report["snapshots_expired"] >= 5 and report["orphans_removed"] >= 1
    assert code == 0 and result["rows_written"] == 1000, result.get("error")

    assert not stray.exists()
    table.refresh()
    assert ids_of(table.scan().to_arrow()) == list(range(1600))
    rerun = run_job(load_job(job))
    assert rerun.rows_written == 0
    data_files = table.inspect.files().column("file_path").to_pylist()
    assert len(data_files) < 7  # six small files compacted (the overlapping run's file may stand beside them)


def test_dativo_maintain_job_dir_takes_every_job_file_of_the_folder(home_env, tmp_path):
    """`maintain --job-dir` (as `run --job-dir`): each job file of the folder, its own tables, one report each."""
    backend = home_env
    jobs = [job_file(tmp_path, backend, name=name, obj=name, data=f"data/{name}-*.csv") for name in ("a", "b")]
    for n, job in enumerate(jobs):
        for batch in range(2):  # two runs: two snapshots, two small files
            write_rows(tmp_path / f"data/{job.stem}-{batch}.csv", range(batch * 10, batch * 10 + 10))
            assert run_job(load_job(job)).rows_written == 10
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATIVO_HOME": str(backend.home)}
    maintained = subprocess.run([str(Path(sys.executable).parent / "dativo"), "maintain", "--job-dir",
                                 str(jobs[0].parent), "--older-than", "0", "--json"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert maintained.returncode == 0, maintained.stderr[-2000:]
    reports = [json.loads(line) for line in maintained.stdout.strip().splitlines()]
    assert sorted(r["table"] for r in reports) == ["t1.a", "t1.b"]
    assert all(r["snapshots_expired"] >= 1 and r["files_compacted"] >= 2 for r in reports), reports
    for name in ("a", "b"):
        assert ids_of(backend.catalog().load_table(f"t1.{name}").scan().to_arrow()) == list(range(20))
