"""Deployment settings of the Airflow side, read from the environment in one place."""

from __future__ import annotations

import hashlib
import os
from enum import Enum
from pathlib import Path

from dativo_defs.config.paths import dativo_home, runner_config_path

MODE_ENV = "DATIVO_AIRFLOW_MODE"
DAGSTER_URL_ENV = "DATIVO_DAGSTER_URL"
AUTO_COMPILE_ENV = "DATIVO_AIRFLOW_AUTO_COMPILE"  # "false": a parse never starts a compile (deploy-time only)
COMPILE_WAIT_ENV = "DATIVO_AIRFLOW_COMPILE_WAIT"  # seconds a parse with no manifest at all waits for one
DEFAULT_COMPILE_WAIT = 20.0  # inside Airflow's default 30 s dagbag_import_timeout, with room for the render
START_DATE = "2026-01-01"  # fixed, so DAGs never change between parses; catchup is off


class ExecutionMode(str, Enum):
    """How an Airflow task materializes its Dagster assets (see docs/AIRFLOW.md)."""

    IN_PROCESS = "in_process"  # Dagster's Python API inside the Airflow worker (default)
    SUBPROCESS = "subprocess"  # `dativo run` in a child process
    DAGSTER = "dagster"  # launch the run on a Dagster deployment over GraphQL (dagster-airlift)


def execution_mode() -> ExecutionMode:
    value = os.environ.get(MODE_ENV, ExecutionMode.IN_PROCESS.value)
    try:
        return ExecutionMode(value)
    except ValueError:
        raise ValueError(f"{MODE_ENV}={value!r}: expected one of {[m.value for m in ExecutionMode]}") from None


def manifest_path(suffix: str = ".json") -> Path:
    """The manifest of the current runner file; with another suffix, a file beside it (`.lock`, `.queue`: the
    compile locks; `.compile.log`: what background compiles printed)."""
    runner = runner_config_path()
    key = hashlib.sha256(str(runner).encode()).hexdigest()[:12]
    return dativo_home(runner) / "airflow" / f"manifest-{key}{suffix}"


def auto_compile() -> bool:
    value = os.environ.get(AUTO_COMPILE_ENV, "true").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{AUTO_COMPILE_ENV}={value!r}: expected true or false")
    return value in ("true", "1", "yes")


def compile_wait_seconds(import_timeout: float | None = None) -> float:
    """How long a parse that finds no manifest waits for the compile it starts: DATIVO_AIRFLOW_COMPILE_WAIT, else
    20 s, kept under 60% of Airflow's dagbag_import_timeout when that is known."""
    value = os.environ.get(COMPILE_WAIT_ENV)
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            raise ValueError(f"{COMPILE_WAIT_ENV}={value!r}: expected a number of seconds") from None
    return DEFAULT_COMPILE_WAIT if import_timeout is None else min(DEFAULT_COMPILE_WAIT, 0.6 * import_timeout)
