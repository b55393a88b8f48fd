"""Execution modes: one module each, chosen per deployment with DATIVO_AIRFLOW_MODE (see settings.py)."""

from __future__ import annotations

from ..manifest import DagSpec, TaskSpec
from ..settings import ExecutionMode


def make_operator(task: TaskSpec, spec: DagSpec, mode: ExecutionMode, **airflow_kwargs):
    """The one place that instantiates operators."""
    if mode is ExecutionMode.DAGSTER:
        from .dagster import DativoDagsterOperator

        return DativoDagsterOperator(task_id=task.task_id, asset_key_paths=[list(k) for k in task.asset_keys],
                                     **airflow_kwargs)
    from airflow.providers.standard.operators.python import PythonOperator

    from .runtime import run_task

    return PythonOperator(task_id=task.task_id, python_callable=run_task,
                          op_kwargs={"job_file": task.job_file, "mode": mode.value}, **airflow_kwargs)
