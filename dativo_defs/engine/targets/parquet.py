"""A plain Parquet dataset per stream, local or on S3-compatible storage, for users without a catalog, with the
same all-or-nothing guarantee.

Layout of `<root>/<object>/`:
  part-<run_id>-<n>.parquet      published data (unique names: a run never overwrites another's files); with
                                 `partition_by`, under Hive-style folders `col=value/` (the column is in the path only)
  _staging/<run_id>/             files being written (readers ignore `_`-prefixed paths)
  _dativo/commits/<seq>.json     the commit log: files, row count and state of each run

The commit point is the exclusive creation of the commit file: a hard link locally, a conditional PUT
(`If-None-Match: *`) on S3. Either refuses to replace an existing entry, and entries take gapless sequence
numbers, so the commit is a compare-and-swap on the log: a run commits only if no entry of its own job was
created after the one it read its state from. A run of another job in between is fine (the run takes the next
number); an overlapping run of the same job that committed first makes this run fail as transient with nothing
committed (ConcurrentRunError). Files are moved into place afterwards (on S3: copied, then the staged copy
deleted); a run that finds a committed entry whose files are still staged finishes the move (roll forward), and
staging without a commit entry is deleted (roll back). `mode: overwrite` records the files it replaces in its
entry and deletes them before publishing its own, so a reader never sees old and new rows together (it may see
neither for the instant between the two); a run with no rows and an unchanged state commits nothing.
Locally an fcntl lock keeps one writer per dataset, so uncommitted staging is always debris. S3 has no lock
across hosts: there, uncommitted staging is deleted only once its newest object is STAGING_GRACE_SECONDS old,
so the files of a run still writing are never touched. State is read from the newest commit entry of the job.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem as FsspecLocalFileSystem
from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem

from ...config.paths import resolve_relative
from ...config.targets import ParquetTarget as ParquetConfig
from ..errors import CommitConflictError, ConcurrentRunError, ConfigurationError
from ..sources.base import State, Stream
from ..storage import filesystem, mtime
from .base import CommitInfo, Target, WriteRequest
from .parquet_writer import RowGroupWriter

FILE_ROWS = 1_000_000
COMMIT_ATTEMPTS = 10  # sequence numbers tried before giving up (each loss means another run just committed)
STAGING_GRACE_SECONDS = 24 * 3600  # S3: uncommitted staging this old belongs to a dead run
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # the folder of a null partition value (Hive's and Spark's name)


class ParquetTarget(Target):
    types = ("parquet",)

    def __init__(self, config: ParquetConfig, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        super().__init__(config, tenant_id, job_name, home, base_dir)
        self.location = resolve_relative(config.path, base_dir) if config.path else str(home / "parquet" / tenant_id)
        if "://" in self.location and not self.location.startswith("s3://"):
            raise ConfigurationError(f"parquet target path {self.location}: only local paths and s3:// are supported",
                                     hint="use the iceberg target for other object stores")
        self.fs, self.root = filesystem(self.location, config.storage, base_dir)
        self.local = isinstance(self.fs, FsspecLocalFileSystem)
        # Local files through Arrow's own filesystem (no Python calls from its threads), S3 through fsspec.
        self.arrow_fs = LocalFileSystem() if self.local else PyFileSystem(FSSpecHandler(self.fs))
        self._read: dict[str, tuple[int, State | None]] = {}  # object -> (newest entry seen, job state): the fence

    def table_name(self, stream: Stream) -> str:
        return f"{self.location.rstrip('/')}/{stream.object}"

    def _dirs(self, stream: Stream) -> tuple[str, str, str]:
        base = f"{self.root.rstrip('/')}/{stream.object}"
        return base, f"{base}/_staging", f"{base}/_dativo/commits"

    @contextlib.contextmanager
    def _locked(self, stream: Stream) -> Iterator[None]:
        """Locally, one writer per dataset at a time, so recovery never mistakes a live run's staging for
        debris. S3 has no such lock: recovery waits out STAGING_GRACE_SECONDS instead."""
        if not self.local:
            yield
            return
        lock_dir = Path(self._dirs(stream)[0]) / "_dativo"
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
        paths = self._commit_paths(stream)
        state = None
        for path in reversed(paths):  # newest first: usually one read
            entry = json.loads(self.fs.cat_file(path))
            if entry["job"] == self.job_key:
                state = entry["state"]
                break
        self._read[stream.object] = (_newest_seq(paths), state)
        return state

    def _commit_paths(self, stream: Stream) -> list[str]:
        _, _, commits = self._dirs(stream)
        self.fs.invalidate_cache(commits)  # another host may have committed since the last listing
        return sorted(p for p in self.fs.find(commits) if _seq(p) is not None)

    def _recover(self, stream: Stream) -> None:
        """Finish committed moves and drop uncommitted staging left by a crash."""
        base, staging, _ = self._dirs(stream)
        self.fs.invalidate_cache(staging)
        newest: dict[str, float] = {}  # run id -> newest modification time of its staged files
        for path, info in self.fs.find(staging, withdirs=True, detail=True).items():
            run_id = path[len(staging):].strip("/").split("/")[0]
            if run_id:
                newest[run_id] = max(newest.get(run_id, 0.0), mtime(info))
        if not newest:
            return
        # Listed after staging: a run that commits in between is rolled forward, never rolled back.
        committed = {e["run_id"]: e for e in (json.loads(self.fs.cat_file(p)) for p in self._commit_paths(stream))}
        for run_id, modified in newest.items():
            if run_id in committed:
                entry = committed[run_id]
                self._publish(f"{staging}/{run_id}", base, entry["files"], entry.get("replaces", []))
            elif self.local or time.time() - modified > STAGING_GRACE_SECONDS:
                self._remove(f"{staging}/{run_id}")

    def write(self, request: WriteRequest) -> CommitInfo:
        with self._locked(request.stream):
            return self._write(request)

    def _begin(self, request: WriteRequest) -> tuple[str, str]:
        """Recover the dataset and make this run's staging folder: (dataset folder, run's staging folder)."""
        self._recover(request.stream)
        base, staging, commits = self._dirs(request.stream)
        run_dir = f"{staging}/{request.run_id}"
        if self.local:
            os.makedirs(run_dir, exist_ok=True)
            os.makedirs(commits, exist_ok=True)
        return base, run_dir

    def _write(self, request: WriteRequest) -> CommitInfo:
        stream = request.stream
        base, run_dir = self._begin(request)
        info = CommitInfo(table=self.table_name(stream))
        files: list[str] = []
        writers: dict[str, tuple[RowGroupWriter, list[int]]] = {}  # partition folder -> (writer, [rows in file])
        try:
            for batch in request.batches:
                for folder, part in self._partitions(batch):
                    writer, rows = writers.get(folder, (None, [0]))
                    if writer is None or rows[0] >= FILE_ROWS or part.schema != writer.schema:  # widened
                        if writer is not None:
                            writer.close()
                        name = f"{folder}part-{request.run_id}-{len(files):05d}.parquet"
                        files.append(name)
                        if self.local and folder:
                            os.makedirs(f"{run_dir}/{folder}", exist_ok=True)
                        writer, rows = RowGroupWriter(f"{run_dir}/{name}", part.schema, self.config.compression,
                                                      filesystem=self.arrow_fs), [0]
                        writers[folder] = (writer, rows)
                    writer.write(part)
                    rows[0] += part.num_rows
                    info.rows += part.num_rows
            for folder in list(writers):
                writers.pop(folder)[0].close()
            read_seq, read_state = self._read.get(stream.object, (0, None))
            state = request.final_state()
            if info.rows == 0 and json.dumps(state, sort_keys=True) == json.dumps(read_state, sort_keys=True):
                self._remove(run_dir)
                return info  # nothing new: no commit entry
            replaces = self._live_files(base) if self.config.mode == "overwrite" else []
            entry = {"run_id": request.run_id, "job": self.job_key, "files": files, "rows": info.rows,
                     "state": state, "mode": self.config.mode, "replaces": replaces}
            self._commit(stream, read_seq, json.dumps(entry).encode())
        except BaseException:
            # Best effort (the original error is the one to report); what stays behind, recovery deletes.
            for open_writer, _ in writers.values():
                with contextlib.suppress(Exception):
                    open_writer.close()
            with contextlib.suppress(Exception):
                self._remove(run_dir)
            raise
        self._publish(run_dir, base, files, replaces)
        info.files = len(files)
        info.bytes = sum(self.fs.size(f"{base}/{name}") for name in files)
        return info

    def _partitions(self, batch: pa.RecordBatch) -> Iterator[tuple[str, pa.RecordBatch]]:
        """(Hive-style folder `col=value/...`, rows of that partition without the partition columns) for each
        partition in `batch`; ("", batch) when the dataset is not partitioned."""
        columns = self.config.partition_by
        if not columns:
            yield "", batch
            return
        missing = [c for c in columns if c not in batch.schema.names]
        if missing:
            raise ConfigurationError(f"parquet target partition_by: column(s) {', '.join(missing)} not in the data",
                                     hint=f"the data has: {', '.join(batch.schema.names)}")
        data = batch.select([n for n in batch.schema.names if n not in columns])
        if all(pc.count_distinct(batch.column(c), mode="all").as_py() == 1 for c in columns):  # e.g. ingest_date
            yield _folder(columns, tuple(batch.column(c)[0].as_py() for c in columns)), data
            return
        for key in dict.fromkeys(tuple(row.values()) for row in batch.select(columns).to_pylist()):
            mask = None
            for column, value in zip(columns, key, strict=True):
                test = pc.is_null(batch.column(column)) if value is None else pc.equal(batch.column(column), value)
                mask = test if mask is None else pc.and_(mask, test)
            yield _folder(columns, key), data.filter(mask)

    def _live_files(self, base: str) -> list[str]:
        """The published data files an overwrite replaces (paths relative to the dataset, partition folders
        included; `_`-prefixed folders are not data)."""
        self.fs.invalidate_cache(base)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        relative = (p[len(base.rstrip("/")) + 1:] for p in found)
        return sorted(r for r in relative if r.endswith(".parquet") and not any(s.startswith("_") for s in r.split("/")))

    def _commit(self, stream: Stream, read_seq: int, data: bytes) -> None:
        """Compare-and-swap on the commit log: fail if this job committed after `read_seq`, else create the
        next entry; if another run took that number first, look again."""
        commits = self._dirs(stream)[2]
        for _ in range(COMMIT_ATTEMPTS):
            paths = self._commit_paths(stream)
            for path in paths:
                seq = _seq(path)
                if seq is not None and seq > read_seq and json.loads(self.fs.cat_file(path))["job"] == self.job_key:
                    raise ConcurrentRunError(
                        f"{commits}: another run of job {self.job_key} committed (entry {seq}) after this run read "
                        f"its state; nothing of this run was committed",
                        hint="runs of one job overlapped; the retry continues from the new state")
            seq = _newest_seq(paths) + 1
            try:
                self._create(f"{commits}/{seq:012d}.json", data)
                return
            except FileExistsError:
                continue
        raise CommitConflictError(f"{commits}: other runs kept taking the next commit number "
                                  f"({COMMIT_ATTEMPTS} attempts)")

    def _create(self, path: str, data: bytes) -> None:
        """Write `path` only if it does not exist yet (FileExistsError otherwise), atomically."""
        if not self.local:
            self.fs.pipe_file(path, data, mode="create")  # If-None-Match: *; a taken key fails with 412
            return
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic and refuses to replace an existing commit
        finally:
            os.unlink(tmp)

    def _publish(self, run_dir: str, base: str, files: list[str], replaces: Sequence[str] = ()) -> None:
        """Delete what an overwrite replaces, then move staged files to their final names; idempotent, so
        recovery can finish an interrupted publish."""
        for name in replaces:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(f"{base}/{name}")
        for name in files:
            if self.local and "/" in name:  # a partition folder
                os.makedirs(f"{base}/{name.rsplit('/', 1)[0]}", exist_ok=True)
            with contextlib.suppress(FileNotFoundError):  # moved already
                self.fs.mv(f"{run_dir}/{name}", f"{base}/{name}")
        self._remove(run_dir)

    def _remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path, recursive=True)


def _folder(columns: Sequence[str], key: tuple[Any, ...]) -> str:
    """`col=value/...` of one partition (values URL-quoted, as Hive escapes them; null as HIVE_NULL)."""
    return "".join(f"{c}={HIVE_NULL if v is None else quote(str(v), safe='')}/" for c, v in zip(columns, key, strict=True))


def _newest_seq(paths: list[str]) -> int:
    return max((seq for path in paths if (seq := _seq(path)) is not None), default=0)


def _seq(path: str) -> int | None:
    stem = path.rsplit("/", 1)[-1].removesuffix(".json")
    return int(stem) if stem.isdigit() else None
