"""Deployment settings of the Airflow side, read from the environment in one place."""

from __future__ import annotations

import hashlib
import os
from enum import Enum
from pathlib import Path

from dativo_defs.config.paths import dativo_home, runner_config_path

MODE_ENV = "DATIVO_AIRFLOW_MODE"
DAGSTER_URL_ENV = "DATIVO_DAGSTER_URL"
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


def manifest_path() -> Path:
    runner = runner_config_path()
    key = hashlib.sha256(str(runner).encode()).hexdigest()[:12]
    return dativo_home(runner) / "airflow" / f"manifest-{key}.json"
