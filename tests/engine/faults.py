"""Fault injection through the source registry (the engine's real seam), not by mocking the engine.

`install(monkeypatch, fail_after=N)` makes file sources raise after N batches (`fail_runs` limits that to the
first K runs, for retry tests); `slow_run.py` runs a job in a child process whose source sleeps between
batches, so a test can SIGKILL it mid-run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyarrow as pa

from dativo_defs.engine import sources
from dativo_defs.engine.sources.files import FileSource


class FaultyFileSource(FileSource):
    fail_after: int | None = None
    fail_runs: int | None = None  # None: every run fails
    sleep_seconds: float = 0.0
    error: type[Exception] = ConnectionResetError
    reads: int = 0

    def read(self, stream, state) -> Iterator[pa.RecordBatch]:
        cls = type(self)
        cls.reads += 1
        _barrier()
        failing = self.fail_after is not None and (self.fail_runs is None or cls.reads <= self.fail_runs)
        for number, batch in enumerate(super().read(stream, state)):
            if failing and number == self.fail_after:
                raise self.error(f"injected fault after {number} batches")
            time.sleep(self.sleep_seconds)
            yield batch


def _barrier() -> None:
    """DATIVO_TEST_BARRIER=<dir>:<n>: wait until n runs have read their state (the source is read after the
    target's state), so overlapping runs really overlap however slowly each process starts."""
    import os
    from pathlib import Path

    spec = os.environ.get("DATIVO_TEST_BARRIER")
    if not spec:
        return
    folder, count = spec.rsplit(":", 1)
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(Path(folder).iterdir())) < int(count) and time.monotonic() < deadline:
        time.sleep(0.02)


def install(monkeypatch, fail_after: int | None = None, sleep_seconds: float = 0.0,
            error: type[Exception] = ConnectionResetError, fail_runs: int | None = None) -> type[FaultyFileSource]:
    for name, value in dict(fail_after=fail_after, sleep_seconds=sleep_seconds, error=error, fail_runs=fail_runs,
                            reads=0).items():
        setattr(FaultyFileSource, name, value)
    for kind in ("csv", "jsonl", "parquet"):
        monkeypatch.setitem(sources.SOURCE_CLASSES, kind, "tests.engine.faults:FaultyFileSource")
    return FaultyFileSource


class SlowFileSource(FileSource):
    """For tests in other processes (dagster dev, Airflow): sleeps DATIVO_TEST_SOURCE_SLEEP seconds per batch.
    Named in a job file as `custom_reader: tests.engine.faults:SlowFileSource`."""

    def read(self, stream, state) -> Iterator[pa.RecordBatch]:
        import os

        for batch in super().read(stream, state):
            time.sleep(float(os.environ.get("DATIVO_TEST_SOURCE_SLEEP", "0")))
            yield batch


class FlakyFileSource(FileSource):
    """For tests in other processes (Airflow tasks): fails by the environment, counted across processes.

    - DATIVO_TEST_FAIL_KIND=permanent: every run raises PermissionError (a permanent failure).
    - DATIVO_TEST_FAIL_FILE=PATH: a counter file; the first DATIVO_TEST_FAIL_RUNS runs (default 2) raise
      ConnectionResetError (transient) after DATIVO_TEST_FAIL_AFTER batches (default 0), later runs succeed.
    Neither set: behaves like FileSource. Named in a job file as `custom_reader: tests.engine.faults:FlakyFileSource`.
    """

    def _failure(self) -> Exception | None:
        import os
        from pathlib import Path

        if os.environ.get("DATIVO_TEST_FAIL_KIND") == "permanent":
            return PermissionError("injected permanent fault (DATIVO_TEST_FAIL_KIND=permanent)")
        counter = os.environ.get("DATIVO_TEST_FAIL_FILE")
        if not counter:
            return None
        path = Path(counter)
        runs = int(path.read_text() or 0) + 1 if path.exists() else 1
        path.write_text(str(runs))
        if runs <= int(os.environ.get("DATIVO_TEST_FAIL_RUNS", "2")):
            return ConnectionResetError(f"injected transient fault in run {runs}")
        return None

    def read(self, stream, state) -> Iterator[pa.RecordBatch]:
        import os

        failure = self._failure()
        fail_after = int(os.environ.get("DATIVO_TEST_FAIL_AFTER", "0"))
        for number, batch in enumerate(super().read(stream, state)):
            if failure is not None and number == fail_after:
                raise failure
            yield batch
        if failure is not None:
            raise failure


class BrokenFileSource(FlakyFileSource):
    """Always fails permanently (PermissionError), whatever the environment: for a server shared by several
    tests, where DATIVO_TEST_FAIL_KIND=permanent would break every FlakyFileSource job at once.
    Named in a job file as `custom_reader: tests.engine.faults:BrokenFileSource`."""

    def _failure(self) -> Exception | None:
        return PermissionError("injected permanent fault: access to the source file was denied")
