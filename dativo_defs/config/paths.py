"""Where things are: the runner file (DATIVO_RUNNER_CONFIG), the project directory and DATIVO_HOME.

Everything resolves from the runner file, so the same code serves any project directory.
"""

from __future__ import annotations

import os
from pathlib import Path

RUNNER_CONFIG_ENV = "DATIVO_RUNNER_CONFIG"
DEFAULT_RUNNER_CONFIG = "configs/runner.yaml"
HOME_ENV = "DATIVO_HOME"


def runner_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The runner file: `explicit`, else $DATIVO_RUNNER_CONFIG, else configs/runner.yaml in the cwd."""
    return Path(explicit or os.environ.get(RUNNER_CONFIG_ENV) or DEFAULT_RUNNER_CONFIG).expanduser().resolve()


def project_dir(runner_path: Path | None = None) -> Path:
    """The project root: the runner file's folder, or its parent when that folder is `configs/`."""
    runner_path = runner_path or runner_config_path()
    folder = runner_path.parent
    return folder.parent if folder.name == "configs" else folder


def dativo_home(runner_path: Path | None = None) -> Path:
    """State of the embedded defaults (Iceberg catalog and warehouse, Dagster/Airflow homes): $DATIVO_HOME,
    else `.dativo/` in the project directory."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    return project_dir(runner_path) / ".dativo"


def resolve_relative(path: str, base_dir: Path) -> str:
    """Resolve a local relative path against the file it was written in; URLs and absolute paths pass through."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str((base_dir / path).resolve())


def builtin_variables() -> dict[str, str]:
    """Variables every config file may use even when unset: ${DATIVO_PROJECT_DIR} and ${DATIVO_HOME}.
    The environment overrides them."""
    runner = runner_config_path()
    return {"DATIVO_PROJECT_DIR": str(project_dir(runner)), "DATIVO_HOME": str(dativo_home(runner))}
