"""The manifest on disk: read it (a parse does only this), compile it (imports dagster: deploy time or a
background process, never inside a parse) and write it atomically (temp file + rename: a reader, or a compile
killed half-way, never leaves half a file).

One compile runs at a time per runner file (an flock on `manifest-*.lock`); at most one more waits its turn
(`manifest-*.queue`), and it compiles only if the manifest is still stale when its turn comes.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .manifest import Manifest, changes
from .settings import manifest_path

log = logging.getLogger(__name__)


def read_manifest() -> Manifest | None:
    """The manifest on disk as last compiled, or None when there is none or it cannot be read (logged)."""
    path = manifest_path()
    try:
        return Manifest.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("dativo: unreadable manifest %s (%s); it needs `dativo airflow compile`", path, exc)
        return None


def load_manifest() -> Manifest:
    """For commands outside the parse (sync-pools, explain): the current manifest, compiled first if it is stale
    or missing."""
    manifest = read_manifest()
    if manifest is not None and not changes(manifest.stamp):
        return manifest
    return rebuild_manifest()


def rebuild_manifest() -> Manifest:
    """Compile and write the manifest now (`dativo airflow compile`), after any compile already running."""
    with _flock(manifest_path(".lock"), blocking=True):
        return _compile_and_write()


def compile_if_stale() -> str:
    """What a background compile does: queue behind a running compile (if one already waits, leave it to that
    one), then compile only if the manifest is still stale or missing. Returns what it did, for its log."""
    turn = ExitStack()
    with _flock(manifest_path(".queue"), blocking=False) as queued:
        if not queued:
            return "a compile is already queued: it will see these changes"
        turn.enter_context(_flock(manifest_path(".lock"), blocking=True))
    with turn:  # the compile lock is ours and the queue slot free again for the next change
        manifest = read_manifest()
        changed = ["no manifest"] if manifest is None else changes(manifest.stamp)
        if not changed:
            return "the manifest is current"
        failed = manifest_path(".failed")
        try:
            manifest = _compile_and_write()
        except BaseException:
            failed.write_text(change_key(changed))  # parses stop starting compiles until the inputs change again
            raise
        return f"compiled {len(manifest.dags)} DAG(s) from {len(manifest.stamp.files)} file(s)"


def change_key(changed: list[str]) -> str:
    """Identifies one set of changes since the last good compile (see last_compile_failed)."""
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()


def last_compile_failed(changed: list[str]) -> bool:
    """Whether a background compile already failed on exactly these changes: then a parse does not start another
    one every 30 s (at 5,000 jobs each costs a core for half a minute); a new change, or `dativo airflow compile`,
    tries again."""
    try:
        return manifest_path(".failed").read_text() == change_key(changed)
    except OSError:
        return False


def _compile_and_write() -> Manifest:
    """Build the Dagster definitions, compile them, write the manifest atomically; clears a failure mark."""
    from dativo_defs.config.loader import load_project
    from dativo_defs.config.paths import runner_config_path
    from dativo_defs.definitions import build_definitions

    from .compile import compile_manifest

    project = load_project(runner_config_path())
    manifest = compile_manifest(build_definitions(project), project)
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(manifest.to_json())
    os.replace(handle.name, path)
    manifest_path(".failed").unlink(missing_ok=True)
    return manifest


@contextmanager
def _flock(path: Path, blocking: bool) -> Iterator[bool]:
    """An exclusive flock on `path` (created if needed); yields False when non-blocking and already held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
