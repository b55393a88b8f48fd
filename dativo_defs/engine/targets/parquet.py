"""A plain Parquet dataset per stream, for users without a catalog, with the same all-or-nothing guarantee.

Layout of `<root>/<object>/`:
  part-<run_id>-<n>.parquet      published data (unique names: a run never overwrites another's files)
  _staging/<run_id>/             files being written (readers ignore `_`-prefixed paths)
  _dativo/commits/<seq>.json     the commit log: files, row count and state of each run

The commit point is the atomic rename of the commit file. Files are moved into place afterwards; a run that
finds a committed entry whose files are still staged finishes the move (roll forward), and staging folders
without a commit entry are deleted (roll back). State is read from the newest commit entry.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq

from ...config.paths import resolve_relative
from ...config.targets import ParquetTarget as ParquetConfig
from ..errors import ConfigurationError
from ..sources.base import State, Stream
from .base import CommitInfo, Target, WriteRequest

FILE_ROWS = 1_000_000


class ParquetTarget(Target):
    types = ("parquet",)

    def __init__(self, config: ParquetConfig, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        super().__init__(config, tenant_id, job_name, home, base_dir)
        root = resolve_relative(config.path, base_dir) if config.path else str(home / "parquet" / tenant_id)
        if "://" in root:
            raise ConfigurationError(f"parquet target path {root}: only local paths are supported so far",
                                     hint="use the iceberg target for object storage")
        self.root = Path(root)

    def table_name(self, stream: Stream) -> str:
        return str(self.root / stream.object)

    def _dirs(self, stream: Stream) -> tuple[Path, Path, Path]:
        base = self.root / stream.object
        return base, base / "_staging", base / "_dativo" / "commits"

    @contextmanager
    def _locked(self, stream: Stream) -> Iterator[None]:
        """One writer per dataset at a time, so recovery never mistakes a live run's staging for debris."""
        lock_dir = self.root / stream.object / "_dativo"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_state(self, stream: Stream) -> State | None:
        with self._locked(stream):
            self._recover(stream)
        for entry in reversed(self._log(stream)):
            if entry["job"] == self.job_key:
                return entry["state"]
        return None

    def _log(self, stream: Stream) -> list[dict]:
        _, _, commits = self._dirs(stream)
        if not commits.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(commits.glob("*.json"))]

    def _recover(self, stream: Stream) -> None:
        """Finish committed moves and drop uncommitted staging left by a crash."""
        base, staging, _ = self._dirs(stream)
        committed = {entry["run_id"]: entry for entry in self._log(stream)}
        if not staging.exists():
            return
        for run_dir in staging.iterdir():
            entry = committed.get(run_dir.name)
            if entry is not None:
                _publish(run_dir, base, entry["files"])
            else:
                shutil.rmtree(run_dir, ignore_errors=True)

    def write(self, request: WriteRequest) -> CommitInfo:
        with self._locked(request.stream):
            return self._write(request)

    def _write(self, request: WriteRequest) -> CommitInfo:
        stream = request.stream
        self._recover(stream)
        base, staging, commits = self._dirs(stream)
        run_dir = staging / request.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        commits.mkdir(parents=True, exist_ok=True)
        info = CommitInfo(table=str(base))
        files: list[str] = []
        writer: pq.ParquetWriter | None = None
        writer_rows = 0
        try:
            for batch in request.batches:
                if writer is None or writer_rows >= FILE_ROWS or batch.schema != writer.schema:  # widened
                    if writer is not None:
                        writer.close()
                    name = f"part-{request.run_id}-{len(files):05d}.parquet"
                    files.append(name)
                    writer = pq.ParquetWriter(run_dir / name, batch.schema, compression=self.config.compression)
                    writer_rows = 0
                writer.write_batch(batch)
                writer_rows += batch.num_rows
                info.rows += batch.num_rows
            if writer is not None:
                writer.close()
                writer = None
            entry = {"run_id": request.run_id, "job": self.job_key, "files": files, "rows": info.rows,
                     "state": request.final_state()}
            _atomic_write(commits / f"{_next_seq(commits):012d}.json", json.dumps(entry))
        except BaseException:
            if writer is not None:
                writer.close()
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        _publish(run_dir, base, files)
        info.files = len(files)
        info.bytes = sum((base / f).stat().st_size for f in files)
        return info


def _next_seq(commits: Path) -> int:
    existing = [int(p.stem) for p in commits.glob("*.json") if p.stem.isdigit()]
    return max(existing, default=0) + 1


def _atomic_write(path: Path, text: str) -> None:
    """Write-then-rename; the rename fails if another run took the same sequence number (no lost commits)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # atomic and refuses to replace an existing commit
    finally:
        tmp.unlink(missing_ok=True)


def _publish(run_dir: Path, base: Path, files: list[str]) -> None:
    for name in files:
        staged = run_dir / name
        if staged.exists():
            os.replace(staged, base / name)
    shutil.rmtree(run_dir, ignore_errors=True)
