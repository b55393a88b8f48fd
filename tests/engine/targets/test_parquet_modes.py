"""Parquet target `mode: overwrite` (a full refresh through the commit log) and no commit for nothing new,
locally and on S3 (moto's server stands in)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from tests.conftest import REPO
from tests.engine.overlap_helpers import ids_of, job_file, make_backend, write_rows


@pytest.mark.parametrize("kind", ["parquet-local", "parquet-s3"])
def test_overwrite_replaces_the_dataset_and_append_adds(kind, tmp_path, request, monkeypatch):
    backend = make_backend(kind, tmp_path / "home", request)
    monkeypatch.setenv("DATIVO_HOME", str(backend.home))
    backend.target_yaml = backend.target_yaml.replace("{type: parquet", "{type: parquet, mode: overwrite")
    job = job_file(tmp_path, backend, extra="")
    job.write_text(job.read_text().replace("  incremental: {strategy: cursor, cursor_field: id}\n", ""))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 300))
    for _ in range(3):  # a full export read three times: the dataset holds it once
        result = run_job(load_job(job))
        assert result.status.value == "success" and result.rows_written == 300, result.error
    assert ids_of(backend.read()) == list(range(300))
    write_rows(tmp_path / "data/ids-000.csv", range(100, 250))  # the export shrank: so does the dataset
    assert run_job(load_job(job)).rows_written == 150
    assert ids_of(backend.read()) == list(range(100, 250))


def test_nothing_new_commits_nothing(tmp_path, request, monkeypatch):
    backend = make_backend("parquet-local", tmp_path / "home", request)
    monkeypatch.setenv("DATIVO_HOME", str(backend.home))
    job = load_job(job_file(tmp_path, backend))
    write_rows(tmp_path / "data/ids-000.csv", range(0, 100))
    assert run_job(job).rows_written == 100
    log = backend.home / "parquet/t1/ids/_dativo/commits"
    entries = sorted(log.iterdir())
    for _ in range(3):
        assert run_job(job).rows_written == 0
    assert sorted(log.iterdir()) == entries
    assert json.loads(entries[-1].read_text())["state"]["cursor"] == 99


def test_the_example_tickets_job_no_longer_duplicates(tmp_path, monkeypatch):
    for folder in ("configs", "jobs"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    job = load_job(tmp_path / "jobs/initech/tickets.yaml")
    rows = sum(1 for _ in (tmp_path / "jobs/initech/data/tickets.csv").open()) - 1
    for _ in range(2):
        assert run_job(job).rows_written == rows
    import pyarrow.dataset as ds

    landed = ds.dataset(str(Path(tmp_path / "home/parquet/initech/tickets")), format="parquet").to_table()
    assert landed.num_rows == rows
