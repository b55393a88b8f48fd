"""A run commits all its data and its cursor atomically, or nothing: injected faults, SIGKILL, reruns."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.conftest import REPO
from tests.engine import faults
from tests.engine.helpers import files_on_disk, iceberg_catalog, read_iceberg, read_parquet, referenced_data_files

ROWS = 5_000


def _write_csv(path: Path, start: int, count: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "amount", "updated_at"])
        for i in range(start, start + count):
            writer.writerow([i, f"name {i}", f"{i * 1.5:.2f}", f"2026-01-01T00:00:{i % 60:02d}+00:00"])


@pytest.fixture
def csv_job(write, dativo_home):
    def make(target: str = "iceberg", incremental: str = "file_modified_time", extra: str = "",
             target_options: str = "") -> Path:
        _write_csv(dativo_home.parent / "data" / "part-000.csv", 0, ROWS)
        return write("jobs/t1/ids.yaml", f"""
            tenant_id: t1
            source:
              type: csv
              batch_rows: 500
              files: [{{path: ../../data/part-*.csv, object: ids}}]
              incremental: {{strategy: {incremental}}}
            target: {{type: {target}{target_options}}}
            logging: {{level: DEBUG}}
            {extra}
        """)
    return make


def _ids(table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def test_two_incremental_runs_pick_up_only_new_files(csv_job, dativo_home):
    job = load_job(csv_job())
    first = run_job(job)
    assert first.status is RunStatus.SUCCESS and first.rows_written == ROWS
    time.sleep(0.01)
    _write_csv(dativo_home.parent / "data" / "part-001.csv", ROWS, 700)
    second = run_job(job)
    assert second.rows_written == 700 and second.objects[0].cursor_before is None
    third = run_job(job)
    assert third.rows_written == 0 and third.objects[0].snapshot_id is None
    assert _ids(read_iceberg(dativo_home, "t1.ids")) == list(range(ROWS + 700))


def test_state_lives_in_a_table_property_committed_with_the_snapshot(csv_job, dativo_home):
    result = run_job(load_job(csv_job()))
    table = iceberg_catalog(dativo_home).load_table("t1.ids")
    snapshot = table.current_snapshot()
    assert snapshot.snapshot_id == result.objects[0].snapshot_id
    assert snapshot.summary["dativo.job"] == "t1/ids" and snapshot.summary["dativo.run_id"] == result.run_id
    committed = json.loads(table.properties["dativo.state.t1/ids"])
    assert committed["run_id"] == result.run_id
    from dativo_defs.engine.sources.window import unpack

    assert len(unpack(committed["state"]["files"]["landed"])) == 1  # part-000.csv's identity (sources/landed.py)


@pytest.mark.parametrize("target", ["iceberg", "parquet"])
def test_fault_between_batches_commits_nothing_and_rerun_is_exact(csv_job, dativo_home, monkeypatch, target):
    job = load_job(csv_job(target=target))
    faults.install(monkeypatch, fail_after=4)
    failed = run_job(job)
    assert failed.status is RunStatus.FAILED and failed.error_kind == "transient" and failed.exit_code == 3
    assert "injected fault after 4 batches" in failed.error
    if target == "iceberg":
        assert files_on_disk(dativo_home, "t1.ids") == {f for f in files_on_disk(dativo_home, "t1.ids")
                                                        if "/metadata/" in f}, "orphan data files left behind"
    else:
        assert not list((dativo_home / "parquet/t1/ids").glob("*.parquet"))
    faults.install(monkeypatch)  # fault cleared
    ok = run_job(job)
    assert ok.status is RunStatus.SUCCESS and ok.rows_written == ROWS
    data = read_iceberg(dativo_home, "t1.ids") if target == "iceberg" else read_parquet(dativo_home / "parquet/t1/ids")
    assert _ids(data) == list(range(ROWS))
    if target == "iceberg":
        on_disk = {f for f in files_on_disk(dativo_home, "t1.ids") if f.endswith(".parquet")}
        assert on_disk == referenced_data_files(dativo_home, "t1.ids")


@pytest.mark.parametrize("target", ["iceberg", "parquet"])
def test_sigkill_mid_run_then_rerun_is_exact(csv_job, dativo_home, target):
    # grace 0: the rerun may delete the killed run's files at once (its process is gone)
    job_file = csv_job(target=target, target_options=", orphan_grace_seconds: 0" if target == "iceberg" else "")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "tests.engine.slow_run", str(job_file), "0.05"], cwd=REPO,
                             env=env, stderr=subprocess.PIPE, text=True)
    batches = 0
    for line in child.stderr:
        if '"event_type": "batch_written"' in line:
            batches += 1
            if batches == 3:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL and batches == 3
    if target == "iceberg":
        left = {f for f in files_on_disk(dativo_home, "t1.ids") if "/metadata/" not in f}
        assert any(f.endswith(".parquet") for f in left) and any("/dativo-inflight/" in f for f in left), left
    result = run_job(load_job(job_file))
    assert result.status is RunStatus.SUCCESS and result.rows_written == ROWS
    data = read_iceberg(dativo_home, "t1.ids") if target == "iceberg" else read_parquet(dativo_home / "parquet/t1/ids")
    assert _ids(data) == list(range(ROWS))
    if target == "iceberg":  # the killed run's uncommitted files were deleted by the rerun, journals included
        on_disk = {f for f in files_on_disk(dativo_home, "t1.ids") if "/metadata/" not in f}
        assert on_disk == referenced_data_files(dativo_home, "t1.ids")
    assert run_job(load_job(job_file)).rows_written == 0  # state advanced exactly once


def test_cursor_column_incremental_with_parquet_target(write, dativo_home):
    data = dativo_home.parent / "data"
    _write_csv(data / "a.csv", 0, 100)
    job = load_job(write("jobs/t1/cur.yaml", """
        tenant_id: t1
        source:
          type: csv
          files: [{path: ../../data/*.csv, object: rows}]
          incremental: {strategy: cursor, cursor_field: id}
        target: {type: parquet}
    """))
    assert run_job(job).objects[0].cursor_after == 99
    _write_csv(data / "b.csv", 50, 100)  # overlaps 50..99, new 100..149
    second = run_job(job)
    assert (second.rows_written, second.objects[0].cursor_before, second.objects[0].cursor_after) == (50, 99, 149)
    assert _ids(read_parquet(dativo_home / "parquet/t1/rows")) == list(range(150))
