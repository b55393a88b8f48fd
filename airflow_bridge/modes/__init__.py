"""Execution modes, as cosmos does them: the ExecutionMode enum (settings.py), one module per mode, and this
builder table. A mode module provides `build(task, spec, **airflow_kwargs)` (the one place that instantiates
its operator) and `AIRFLOW_OWNS_RETRIES`: exactly one side retries, the other never adds its own.
A new mode = an enum value, a module here, a row below and tests/airflow/test_mode_<mode>.py.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..manifest import DagSpec, TaskSpec
from ..settings import ExecutionMode

BUILDERS: dict[ExecutionMode, str] = {
    ExecutionMode.IN_PROCESS: "airflow_bridge.modes.in_process",
    ExecutionMode.SUBPROCESS: "airflow_bridge.modes.subprocess",
    ExecutionMode.DAGSTER: "airflow_bridge.modes.dagster",
}


def mode_module(mode: ExecutionMode) -> ModuleType:
    return importlib.import_module(BUILDERS[mode])


def airflow_owns_retries(mode: ExecutionMode) -> bool:
    return bool(mode_module(mode).AIRFLOW_OWNS_RETRIES)


def make_operator(task: TaskSpec, spec: DagSpec, mode: ExecutionMode, **airflow_kwargs: Any) -> Any:
    """The one place that instantiates operators (through the mode's builder)."""
    return mode_module(mode).build(task, spec, **airflow_kwargs)
