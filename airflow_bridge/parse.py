"""What a parse of the dags folder renders: the manifest as last compiled. A parse never builds the Dagster
definitions (tens of seconds at thousands of jobs, against Airflow's 30 s dagbag_import_timeout).

- current manifest: its DAGs.
- stale (an input changed since the compile): still the last good DAGs, each tagged `dativo:stale-manifest`
  with a note saying what changed; the parse log warns with the changed files and the command to run, and a
  background compile starts (unless DATIVO_AIRFLOW_AUTO_COMPILE=false), so a later parse serves the new DAGs.
- no manifest at all (first start without `dativo airflow compile`): the parse starts the compile and waits
  for it up to DATIVO_AIRFLOW_COMPILE_WAIT (20 s): a small project gets its DAGs at once; otherwise one
  placeholder DAG says what to run, and the compile, which outlives the parse, lands for the next one.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

from . import background
from .cache import last_compile_failed, read_manifest
from .manifest import Manifest, changes
from .settings import AUTO_COMPILE_ENV, auto_compile, compile_wait_seconds, manifest_path

log = logging.getLogger(__name__)
COMMAND = "dativo airflow compile"
SHOWN_CHANGES = 10


class ManifestWarning(UserWarning):
    """The DAGs of this parse may not match the configs: the manifest is stale or missing."""


def _report(notice: str) -> None:
    """In the parse log, and as a warning Airflow's DagBag captures and counts for the file."""
    log.warning("%s", notice)
    warnings.warn(notice, ManifestWarning, stacklevel=2)


@dataclass
class ParseView:
    manifest: Manifest | None  # None: nothing compiled yet
    notice: str | None = None  # why the DAGs may not match the configs, and what to run; None when current


def manifest_for_parse() -> ParseView:
    manifest = read_manifest()
    if manifest is None:
        manifest, failed = _compile_while_waiting()
        if manifest is None:
            notice = _missing_notice(failed)
            _report(notice)
            return ParseView(None, notice)
    changed = changes(manifest.stamp)
    if not changed:
        return ParseView(manifest)
    failed = last_compile_failed(changed)
    started = auto_compile() and not failed and background.start() is not None
    notice = _stale_notice(manifest, changed, started, failed)
    _report(notice)
    return ParseView(manifest, notice)


def _compile_while_waiting() -> tuple[Manifest | None, bool]:
    """The manifest a compile started now wrote within the wait, and whether that compile failed."""
    if not auto_compile():
        return None, False
    child = background.start()
    if child is None:
        return None, False
    deadline = time.monotonic() + compile_wait_seconds(_import_timeout())
    while time.monotonic() < deadline:
        if child.poll() is not None:  # done (or it found a compile already queued: then keep waiting for that)
            manifest = read_manifest()
            if manifest is not None or child.returncode:
                return manifest, bool(child.returncode)
        time.sleep(0.1)
    return read_manifest(), False


def _import_timeout() -> float | None:
    try:
        from airflow.configuration import conf

        return conf.getfloat("core", "dagbag_import_timeout")
    except Exception:  # outside an Airflow installation's configuration: the default wait
        return None


def _stale_notice(manifest: Manifest, changed: list[str], started: bool, failed: bool) -> str:
    shown = "; ".join(changed[:SHOWN_CHANGES]) + (f"; and {len(changed) - SHOWN_CHANGES} more"
                                                  if len(changed) > SHOWN_CHANGES else "")
    compile_log = manifest_path(".compile.log")
    if failed:
        action = f"the background compile of these changes failed (see {compile_log}); run `{COMMAND}`"
    elif started:
        action = f"a background compile was started (log: {compile_log}); to compile now, run `{COMMAND}`"
    else:
        action = f"run `{COMMAND}` ({AUTO_COMPILE_ENV}=false)"
    return (f"dativo: the Airflow manifest {manifest_path()} is stale: these DAGs are as compiled at "
            f"{manifest.compiled_at}, and the inputs changed since ({shown}); {action}")


def _missing_notice(failed: bool) -> str:
    if failed:
        return (f"dativo: no compiled manifest at {manifest_path()}, and the compile failed (see "
                f"{manifest_path('.compile.log')}); run `{COMMAND}`")
    if auto_compile():
        return (f"dativo: no compiled manifest yet at {manifest_path()}: a background compile is running (log: "
                f"{manifest_path('.compile.log')}) and the DAGs appear at a later parse; run `{COMMAND}` at deploy "
                "time so a parse never waits")
    return f"dativo: no compiled manifest at {manifest_path()}: run `{COMMAND}` ({AUTO_COMPILE_ENV}=false)"
