"""Chaos: runs of one job overlap while some of them are SIGKILLed at random instants (reading, writing,
committing, cleaning up). Whatever happens, a clean rerun leaves every source row exactly once and no file the
table does not reference. The seed is printed; replay a failure with DATIVO_CHAOS_SEED=<seed>."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import summary
from tests.engine.overlap_helpers import ids_of, job_file, make_backend, start_run, write_rows

ROUNDS, RUNS_PER_ROUND, ROWS_PER_ROUND = 4, 3, 400


@pytest.mark.parametrize("kind", ["iceberg-sqlite", "parquet-local"])
def test_random_kills_among_overlapping_runs_lose_and_duplicate_nothing(kind, tmp_path, request):
    seed = int(os.environ.get("DATIVO_CHAOS_SEED", random.randrange(2**32)))
    summary(f"chaos [{kind}]: seed {seed} (replay with DATIVO_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    backend = make_backend(kind, tmp_path / "home", request)
    job = job_file(tmp_path, backend)
    outcomes: list[str] = []
    for round_number in range(ROUNDS):
        first = round_number * ROWS_PER_ROUND
        write_rows(tmp_path / f"data/ids-{round_number:03d}.csv", range(first, first + ROWS_PER_ROUND))
        started = time.monotonic()
        children = []
        for _ in range(RUNS_PER_ROUND):
            children.append((start_run(job, rng.choice([0.05, 0.1, 0.2]), backend.home),
                             rng.uniform(1.5, 4.5) if rng.random() < 0.6 else None))
            time.sleep(rng.uniform(0, 0.6))
        for child, kill_at in sorted(children, key=lambda c: c[1] or 1e9):
            if kill_at is not None:
                time.sleep(max(0.0, kill_at - (time.monotonic() - started)))
                if child.process.poll() is None:
                    child.process.send_signal(signal.SIGKILL)
        for child, _ in children:
            code, _ = child.result()
            outcomes.append({0: "ok", 3: "transient", -9: "killed"}.get(code, f"exit {code}"))
            assert code in (0, 3, -9), f"seed {seed}: a run failed permanently ({code})"

    for _ in range(2):  # a clean rerun (the second one must find nothing new)
        code, result = start_run(job, 0, backend.home).result()
        assert code == 0, f"seed {seed}: {result}"
    assert result["rows_written"] == 0, f"seed {seed}: state did not advance exactly once"
    expected = list(range(ROUNDS * ROWS_PER_ROUND))
    assert ids_of(backend.read()) == expected, f"seed {seed}: lost or duplicated rows ({outcomes})"
    if kind == "iceberg-sqlite":
        from dativo_defs.engine.targets.iceberg_maintenance import referenced_files

        table = backend.catalog().load_table("t1.ids")
        root = Path(table.location().removeprefix("file://"))
        referenced = {p.removeprefix("file://") for p in referenced_files(table)}
        stray = {str(p) for p in (root / "data").glob("*.parquet")} - referenced
        assert not stray, f"seed {seed}: data files nobody references: {sorted(stray)[:5]}"
    summary(f"chaos [{kind}]: {len(outcomes)} runs: {sorted(outcomes)}; {len(expected)} rows exact")
