"""Pick the dialect of a job file before validating it."""

from __future__ import annotations

from pathlib import Path

from ..bounded import read_bounded
from ..errors import ConfigError
from ..yaml_loader import MAX_FILE_BYTES, load_yaml
from .dialect import UPSTREAM_MARKERS, is_upstream


def is_upstream_file(file: Path) -> bool:
    """True when `file` is an upstream-format job; unreadable files are left to the normal loader's errors.
    A file whose text names no marker field is not parsed here (dativo's own jobs pay a file read, not a parse)."""
    try:
        head = read_bounded(file, MAX_FILE_BYTES)  # never blocks on a FIFO, never reads without bound
    except OSError:
        return False
    if not any(marker.encode() in head for marker in UPSTREAM_MARKERS):
        return False
    try:
        return is_upstream(load_yaml(file).data)
    except ConfigError:
        return False
