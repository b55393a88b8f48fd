"""A write-ahead journal of the files an Iceberg write creates, so the files of a run that died without
cleaning up (SIGKILL, OOM kill, a lost worker) are deleted by a later write to the same table.

Layout: `<table location>/dativo-inflight/<run id>/`, one empty object per entry, each created once and never
rewritten, so a kill at any instant leaves a journal that lists correctly (nothing can be torn):
  `owner-<quoted {"host", "pid", "job"}>`   created first
  `f-<quoted path relative to the table>`   created before the file it names
  `x-<sha1>`                                a file outside the table location; its location is the content
The journal is removed once the run has committed or cleaned up after itself.

Before writing, a run sweeps the journals it finds: a run counts as dead when its newest entry is older than
the grace period and either it ran on this host and its process is gone, or it ran elsewhere and the entry is
older than OTHER_HOST_GRACE_SECONDS (liveness cannot be checked across hosts). A dead run's files are deleted
only when the *current* table metadata references none of them (every retained snapshot's manifest lists,
manifests and data files): a run killed right after its commit, whose snapshot has since been expired, keeps
every file the table still reads. Journals of the older single-file layout (`<run id>.json`) are swept too; a
torn one (killed mid-rewrite) is recovered from the run's data-file names, and what cannot be recovered is left
to `dativo maintain`'s orphan removal, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import posixpath
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from pyiceberg.io import FileIO, InputFile, OutputFile
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from .iceberg_probe import JOURNAL_DIR

log = logging.getLogger(__name__)
OTHER_HOST_GRACE_SECONDS = 24 * 3600
HOST = socket.gethostname()
_OWNER, _FILE, _EXTERNAL = "owner-", "f-", "x-"


def journal_dir(table_location: str) -> str:
    return f"{table_location.rstrip('/')}/{JOURNAL_DIR}"


@dataclass
class Journal:
    """The journal of one run's write to one table; `add` is called before each file is created."""

    io: FileIO
    table_location: str
    run_id: str
    files: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{journal_dir(self.table_location)}/{self.run_id}"

    @classmethod
    def start(cls, io: FileIO, table: Table, run_id: str, job: str) -> Journal:
        journal = cls(io, table.location().rstrip("/"), run_id)
        owner = json.dumps({"host": HOST, "pid": os.getpid(), "job": job}, separators=(",", ":"))
        _touch(io, f"{journal.location}/{_OWNER}{quote(owner, safe='')}")
        return journal

    def add(self, location: str) -> None:
        self.files.append(location)
        prefix = self.table_location + "/"
        if location.startswith(prefix):
            _touch(self.io, f"{self.location}/{_FILE}{quote(location[len(prefix):], safe='')}")
        else:
            digest = hashlib.sha1(location.encode()).hexdigest()
            _touch(self.io, f"{self.location}/{_EXTERNAL}{digest}", location.encode())

    def discard(self) -> None:
        """Remove the journal (its files stay: they are committed, or already deleted)."""
        for entry, _ in list_files(self.io, self.location):
            delete_quietly(self.io, entry)
        _remove_dir(self.location)

    def roll_back_files(self, start: int) -> None:
        """Delete the files journaled from position `start` on (a failed commit attempt's manifests); their
        entries stay until the journal is discarded, harmless once the files are gone."""
        for path in self.files[start:]:
            delete_quietly(self.io, path)

    def roll_back(self, referenced: Iterable[str] = ()) -> int:
        """Delete the run's files that `referenced` does not name, then the journal, unless a file could not be
        deleted (a later sweep tries again). Returns how many files were deleted."""
        keep = set(referenced)
        outcomes = [delete_quietly(self.io, path) for path in self.files if path not in keep]
        if "failed" not in outcomes:
            self.discard()
        return outcomes.count("deleted")


class RecordingIO(FileIO):
    """Delegates to the table's FileIO and journals every file before it is written, so a failed commit can
    delete them (`journal.roll_back()`), and a later run can if this one is killed first."""

    def __init__(self, inner: FileIO, journal: Journal):
        super().__init__(inner.properties)
        self.inner = inner
        self.journal = journal

    def new_input(self, location: str) -> InputFile:
        return self.inner.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        self.journal.add(location)
        return self.inner.new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self.inner.delete(location)


@dataclass
class _Found:
    """A journal found by a sweep, in either layout."""

    run_id: str
    owner: dict[str, Any]
    updated_at: float
    files: list[str]
    entries: list[str]  # what to delete once the files are gone
    complete: bool = True  # False: a torn legacy journal, files recovered from names only


def sweep(io: FileIO, table: Table, own_run_id: str, grace_seconds: int,
          referenced: Any = None) -> int:
    """Delete the files of dead runs that `table` does not reference; returns how many files were deleted.
    `referenced(table) -> set[str]` lists what the current metadata references (computed only when a dead run
    is found). Best effort: anything that cannot be read or decided is left for a later sweep."""
    removed = 0
    location = table.location().rstrip("/")
    refs: set[str] | None = None
    for found in journals(io, location):
        if found.run_id == own_run_id or not is_dead(found, grace_seconds):
            continue
        if refs is None:
            try:
                table.refresh()  # what the table references now, not when this run loaded it
                refs = referenced(table) if referenced is not None else set()
            except Exception as exc:  # noqa: BLE001 - e.g. maintenance removed an expired manifest list meanwhile
                log.warning("could not list the files %s references (%s); sweeping later", table.name(), exc)
                return removed
        deleted = [path for path in found.files if path not in refs]
        outcomes = [delete_quietly(io, path) for path in deleted]
        if "failed" not in outcomes:
            for entry in found.entries:
                delete_quietly(io, entry)
            _remove_dir(f"{journal_dir(location)}/{found.run_id}")
        removed += outcomes.count("deleted")
        kept = len(found.files) - len(deleted)
        if deleted or not found.complete:
            log.warning("deleted %d uncommitted file(s) of run %s (job %s, host %s, pid %s), which died before "
                        "committing to %s; %d of its files are referenced by the table and were kept%s",
                        outcomes.count("deleted"), found.run_id, found.owner.get("job"), found.owner.get("host"),
                        found.owner.get("pid"), table.name(), kept,
                        "" if found.complete else "; its journal was torn, so only its data files could be "
                        "recovered by name (run `dativo maintain` to remove the rest as orphans)")
    return removed


def journals(io: FileIO, location: str) -> Iterable[_Found]:
    runs: dict[str, list[tuple[str, float]]] = {}
    root = journal_dir(location)
    for path, modified in list_files(io, root, recursive=True):
        relative = path[len(root) + 1:]
        if "/" in relative:
            runs.setdefault(relative.split("/", 1)[0], []).append((path, modified))
        elif relative.endswith(".json"):
            legacy = _legacy(io, location, path, modified)
            if legacy is not None:
                yield legacy
    for run_id, entries in runs.items():
        owner: dict[str, Any] = {}
        files: list[str] = []
        for path, _ in entries:
            name = posixpath.basename(path)
            if name.startswith(_OWNER):
                owner = _json_or_empty(unquote(name[len(_OWNER):]))
            elif name.startswith(_FILE):
                files.append(f"{location}/{unquote(name[len(_FILE):])}")
            elif name.startswith(_EXTERNAL):
                try:
                    with io.new_input(path).open() as stream:
                        files.append(stream.read().decode())
                except Exception as exc:  # noqa: BLE001
                    log.warning("could not read journal entry %s (%s); its file is left to `dativo maintain`",
                                path, exc)
        yield _Found(run_id, owner, max(m for _, m in entries), files, [p for p, _ in entries])


def _legacy(io: FileIO, location: str, path: str, modified: float) -> _Found | None:
    """A journal of the older layout: one JSON file rewritten in place (a kill mid-rewrite tears it)."""
    run_id = posixpath.basename(path).removesuffix(".json")
    try:
        with io.new_input(path).open() as stream:
            record = json.loads(stream.read())
        return _Found(run_id, record, float(record.get("updated_at", modified)), list(record.get("files", [])),
                      [path])
    except FileNotFoundError:
        return None  # its run finished while we looked
    except Exception as exc:  # noqa: BLE001 - torn (0 bytes, truncated JSON): recover by the data-file names
        log.warning("write journal %s is unreadable (%s); recovering its run's files by name", path, exc)
        data = [p for p, _ in list_files(io, f"{location}/data", recursive=True)
                if posixpath.basename(p).startswith(f"dativo-{run_id}-")]
        return _Found(run_id, {}, modified, data, [path], complete=False)


def _json_or_empty(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def is_dead(found: _Found, grace_seconds: int) -> bool:
    age = time.time() - found.updated_at
    host, pid = found.owner.get("host"), found.owner.get("pid")
    if host != HOST:  # another host, or unknown (torn): cannot check the process
        return age > max(grace_seconds, OTHER_HOST_GRACE_SECONDS if host else grace_seconds)
    return age > grace_seconds and not _process_alive(int(pid or 0))


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


def _touch(io: FileIO, location: str, content: bytes = b"") -> None:
    with io.new_output(location).create(overwrite=True) as stream:
        stream.write(content)


def list_files(io: FileIO, directory: str, recursive: bool = False) -> list[tuple[str, float]]:
    """(location, modification time) of the files under `directory`, for the FileIO implementations pyiceberg
    ships."""
    try:
        if isinstance(io, PyArrowFileIO):
            from pyarrow.fs import FileSelector, FileType

            scheme, netloc, path = PyArrowFileIO.parse_location(directory, io.properties)
            infos = io.fs_by_scheme(scheme, netloc).get_file_info(
                FileSelector(path, allow_not_found=True, recursive=recursive))
            base = path.rstrip("/")
            return [(f"{directory}{info.path[len(base):]}", info.mtime.timestamp() if info.mtime else 0.0)
                    for info in infos if info.type == FileType.File]
        get_fs = getattr(io, "get_fs", None)  # FsspecFileIO
        if get_fs is not None:
            from urllib.parse import urlparse

            from ..storage import mtime

            parsed = urlparse(directory)
            fs = get_fs(parsed.scheme or "file")
            root = fs._strip_protocol(directory).rstrip("/")
            try:
                found = fs.find(root, maxdepth=None if recursive else 1, detail=True)
            except FileNotFoundError:
                return []
            return [(f"{directory}{p[len(root):]}", mtime(info)) for p, info in found.items()
                    if info.get("type") != "directory"]
    except Exception as exc:  # noqa: BLE001 - listing is best effort
        log.warning("could not list %s (%s)", directory, exc)
        return []
    log.warning("cannot list %s with %s; crashed runs' files are not swept", directory, type(io).__name__)
    return []


def _remove_dir(location: str) -> None:
    """Local directories stay behind once emptied; object stores have none."""
    if location.startswith("file://") or "://" not in location:
        path = location.removeprefix("file://")
        with contextlib.suppress(OSError):  # not empty (a file could not be deleted) or gone already
            os.rmdir(path)


def delete_quietly(io: FileIO, location: str) -> str:
    """"deleted", "missing" or "failed" (logged): cleanup never masks the caller's outcome."""
    try:
        io.delete(location)
        return "deleted"
    except FileNotFoundError:
        return "missing"
    except Exception as exc:  # noqa: BLE001
        log.warning("could not delete %s: %s", location, exc)
        return "failed"
