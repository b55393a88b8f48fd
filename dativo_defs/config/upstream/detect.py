"""Pick the dialect of a job file before validating it."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..yaml_loader import load_yaml
from .dialect import is_upstream


def is_upstream_file(file: Path) -> bool:
    """True when `file` is an upstream-format job; unreadable files are left to the normal loader's errors."""
    try:
        return is_upstream(load_yaml(file).data)
    except ConfigError:
        return False
