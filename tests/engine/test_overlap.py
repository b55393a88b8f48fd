"""Exactly once when runs of one job overlap (a retry beside a lost first try, a manual run during a scheduled
one, a job moved between orchestrators), when different jobs share a table, and when N first runs race to
create a fresh warehouse. Real child processes, every backend, data read back and compared by key set."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.engine.overlap_helpers import (BACKENDS, ids_of, job_file, make_backend, run_together, start_run,
                                          write_rows)

ROUND_ONE, ROUND_TWO = range(0, 1500), range(1500, 2000)


def _committers(results: list[tuple[int, dict]]) -> list[int]:
    """Rows written by each run that committed rows (exit 0 with rows)."""
    return [r.get("rows_written", 0) for code, r in results if code == 0 and r.get("rows_written")]


@pytest.mark.parametrize("kind", BACKENDS)
def test_overlapping_runs_of_one_job_land_each_row_exactly_once(kind, tmp_path, request):
    backend = make_backend(kind, tmp_path / "home", request)
    job = job_file(tmp_path, backend)
    write_rows(tmp_path / "data/ids-000.csv", ROUND_ONE)

    together = run_together(job, backend.home, n=4, sleep=0.05)  # all four read the same state (a barrier)
    codes = Counter(code for code, _ in together)
    assert set(codes) <= {0, 3}, together
    assert _committers(together) == [len(ROUND_ONE)], together
    assert codes[3] == 3, f"every run read the same state, exactly one may commit: {together}"
    for code, result in together:
        if code == 3:
            assert result["error_kind"] == "transient" and "another run of job t1/ids" in result["error"]

    write_rows(tmp_path / "data/ids-001.csv", ROUND_TWO)
    staggered = run_together(job, backend.home, n=4, sleep=0.1, stagger=0.4)
    assert {code for code, _ in staggered} <= {0, 3}, staggered
    assert _committers(staggered) == [len(ROUND_TWO)], staggered

    code, rerun = start_run(job, 0, backend.home).result()
    assert code == 0 and rerun["rows_written"] == 0
    data = backend.read()
    assert ids_of(data) == list(range(2000)), "duplicates or lost rows"
    assert data.num_rows == 2000


@pytest.mark.parametrize("kind", ["iceberg-sqlite", "iceberg-postgres", "parquet-local"])
def test_different_jobs_appending_to_one_table_concurrently_all_land(kind, tmp_path, request):
    backend = make_backend(kind, tmp_path / "home", request)
    jobs = []
    for n in range(3):
        write_rows(tmp_path / f"data/part{n}-000.csv", range(n * 1000, n * 1000 + 600))
        jobs.append(job_file(tmp_path, backend, name=f"loader{n}", obj="shared", data=f"data/part{n}-*.csv"))
    from tests.engine.overlap_helpers import start_run as start

    results = [child.result() for child in [start(job, 0.1, backend.home) for job in jobs]]
    assert [code for code, _ in results] == [0, 0, 0], [r.get("error") for _, r in results]
    data = backend.read("t1.shared", "t1/shared")
    expected = sorted(i for n in range(3) for i in range(n * 1000, n * 1000 + 600))
    assert ids_of(data) == expected


def test_n_first_runs_on_a_fresh_embedded_warehouse_succeed_or_are_transient(tmp_path, request):
    backend = make_backend("iceberg-sqlite", tmp_path / "home", request)
    jobs = []
    for n in range(4):
        write_rows(tmp_path / f"data/t{n}-000.csv", range(n * 100, n * 100 + 100))
        jobs.append(job_file(tmp_path, backend, name=f"first{n}", obj=f"table{n}", data=f"data/t{n}-*.csv"))
    children = [start_run(job, 0, backend.home) for job in jobs] + [start_run(jobs[0], 0, backend.home)]
    results = [child.result() for child in children]
    assert {code for code, _ in results} <= {0, 3}, results  # never a permanent failure for a race
    for job in jobs:  # what was transient lands on the retry
        code, _ = start_run(job, 0, backend.home).result()
        assert code == 0
    for n in range(4):
        assert ids_of(backend.read(f"t1.table{n}")) == list(range(n * 100, n * 100 + 100))
