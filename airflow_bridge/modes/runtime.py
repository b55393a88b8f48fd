"""Shared by the worker-side modes (`in_process`, `subprocess`): what a failure becomes in Airflow, the Airflow
ids a run is tagged with, and the metrics line. Imported by the worker at run time only.

transient -> TransientTaskError (Airflow retries, waits from airflow_bridge.retry); permanent ->
AirflowFailException (no retry). The decision is made on typed values (the engine's error_kind, exit codes),
never on message text.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn


class TransientTaskError(RuntimeError):
    """A transient dativo failure: Airflow retries the task per its retry policy."""


def fail_permanently(message: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


def raise_for(error_kind: str | None, message: str) -> NoReturn:
    if error_kind == "transient":
        raise TransientTaskError(message)
    fail_permanently(message)


def airflow_ids(context: dict[str, Any]) -> dict[str, str]:
    ti = context.get("ti")
    return {"airflow/dag_id": str(getattr(ti, "dag_id", "")), "airflow/run_id": str(getattr(ti, "run_id", "")),
            "airflow/task_id": str(getattr(ti, "task_id", "")), "airflow/try_number": str(getattr(ti, "try_number", ""))}


def report(metrics: dict[str, Any]) -> dict[str, Any]:
    """Print the metrics line into the task log; the caller returns them (XCom return_value)."""
    print("dativo metrics: " + json.dumps(metrics, default=str))
    return metrics
