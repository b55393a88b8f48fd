"""A write-ahead journal of the files an Iceberg write creates, so the files of a run that died without
cleaning up (SIGKILL, OOM kill, a lost worker) are deleted by a later write to the same table.

Each run keeps `<table location>/dativo-inflight/<run id>.json`, rewritten before every file it creates (data
files, manifests), and removed once the run has committed or cleaned up after itself. Before writing, a run
sweeps the journals it finds there: a journal whose run is known dead and whose commit is known not to have
landed has its files deleted. A run counts as dead when its last journal update is older than the grace period
and either it ran on this host and its process is gone, or it ran elsewhere and the update is older than
OTHER_HOST_GRACE_SECONDS (liveness cannot be checked across hosts). A landed run's files are referenced by the
table and are never deleted; only its journal is.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from .base import RUN_ID_KEY

log = logging.getLogger(__name__)
JOURNAL_DIR = "dativo-inflight"
OTHER_HOST_GRACE_SECONDS = 24 * 3600
HOST = socket.gethostname()


def journal_dir(table: Table) -> str:
    return f"{table.location().rstrip('/')}/{JOURNAL_DIR}"


@dataclass
class Journal:
    """The journal of one run's write to one table; `add` is called before each file is created."""

    io: FileIO
    location: str
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, io: FileIO, table: Table, run_id: str, job: str) -> Journal:
        journal = cls(io, f"{journal_dir(table)}/{run_id}.json",
                      {"run_id": run_id, "job": job, "host": HOST, "pid": os.getpid(), "started_at": time.time(),
                       "updated_at": time.time(), "files": []})
        journal._save()
        return journal

    def add(self, location: str) -> None:
        self.record["files"].append(location)
        self.record["updated_at"] = time.time()
        self._save()

    def discard(self) -> None:
        _delete_quietly(self.io, self.location)

    def roll_back(self) -> int:
        """Delete the run's files, then the journal, unless a file could not be deleted (a later sweep tries
        again). Returns how many files were deleted."""
        outcomes = [_delete_quietly(self.io, path) for path in self.record["files"]]
        if "failed" not in outcomes:
            self.discard()
        return outcomes.count("deleted")

    def _save(self) -> None:
        with self.io.new_output(self.location).create(overwrite=True) as stream:
            stream.write(json.dumps(self.record).encode())


def sweep(io: FileIO, table: Table, own_run_id: str, grace_seconds: int) -> int:
    """Delete the files of dead runs that never committed to `table`; returns how many files were deleted.
    Best effort: anything that cannot be read or decided is left for a later sweep."""
    removed = 0
    landed = {s.summary[RUN_ID_KEY] for s in table.metadata.snapshots if s.summary is not None} - {None}
    for location in _list(io, journal_dir(table)):
        if not location.endswith(".json") or posixpath.basename(location) == f"{own_run_id}.json":
            continue
        try:
            with io.new_input(location).open() as stream:
                record = json.loads(stream.read())
        except FileNotFoundError:
            continue  # its run finished while we looked
        except Exception as exc:  # noqa: BLE001 - an unreadable journal is reported and left alone
            log.warning("could not read write journal %s (%s); leaving it", location, exc)
            continue
        if record.get("run_id") in landed:
            _delete_quietly(io, location)  # committed: its files belong to the table
            continue
        if not _dead(record, grace_seconds):
            continue
        deleted = Journal(io, location, {"files": [], **record}).roll_back()
        removed += deleted
        log.warning("deleted %d uncommitted file(s) of run %s (job %s, host %s, pid %s), which died before "
                    "committing to %s", deleted, record.get("run_id"), record.get("job"), record.get("host"),
                    record.get("pid"), table.name())
    return removed


def _dead(record: dict[str, Any], grace_seconds: int) -> bool:
    age = time.time() - float(record.get("updated_at", 0))
    if record.get("host") != HOST:
        return age > max(grace_seconds, OTHER_HOST_GRACE_SECONDS)
    return age > grace_seconds and not _process_alive(int(record.get("pid", 0)))


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _list(io: FileIO, directory: str) -> list[str]:
    """Locations of the files directly under `directory`, for the FileIO implementations pyiceberg ships."""
    try:
        if isinstance(io, PyArrowFileIO):
            from pyarrow.fs import FileSelector, FileType

            scheme, netloc, path = PyArrowFileIO.parse_location(directory, io.properties)
            infos = io.fs_by_scheme(scheme, netloc).get_file_info(FileSelector(path, allow_not_found=True))
            return [f"{directory}/{info.base_name}" for info in infos if info.type == FileType.File]
        get_fs = getattr(io, "get_fs", None)  # FsspecFileIO
        if get_fs is not None:
            from urllib.parse import urlparse

            fs = get_fs(urlparse(directory).scheme or "file")
            try:
                return [f"{directory}/{posixpath.basename(p.rstrip('/'))}" for p in fs.ls(directory, detail=False)]
            except FileNotFoundError:
                return []
    except Exception as exc:  # noqa: BLE001 - listing is best effort
        log.warning("could not list write journals under %s (%s)", directory, exc)
        return []
    log.warning("cannot list write journals with %s; crashed runs' files are not swept", type(io).__name__)
    return []


def _delete_quietly(io: FileIO, location: str) -> str:
    """"deleted", "missing" or "failed" (logged): cleanup never masks the caller's outcome."""
    try:
        io.delete(location)
        return "deleted"
    except FileNotFoundError:
        return "missing"
    except Exception as exc:  # noqa: BLE001
        log.warning("could not delete %s: %s", location, exc)
        return "failed"
