"""`in_process` mode (default): the task materializes the job's assets in the worker through Dagster's Python
API. Airflow owns the retries: the assets are built without a RetryPolicy and the run is tagged
`dativo/retries_owner=airflow`, so Dagster never retries inside the task."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..manifest import DagSpec, TaskSpec

AIRFLOW_OWNS_RETRIES = True


def build(task: TaskSpec, spec: DagSpec, **airflow_kwargs: Any) -> Any:
    from airflow.providers.standard.operators.python import PythonOperator

    return PythonOperator(task_id=task.task_id, python_callable=run_in_process, op_kwargs={"job_file": task.job_file},
                          **airflow_kwargs)


def run_in_process(job_file: str, **context: Any) -> dict[str, Any]:
    from dagster import DagsterInstance, Definitions, define_asset_job
    from dagster._core.execution.plan.objects import StepFailureData

    from dativo_defs import tags
    from dativo_defs.assets import assets_for_job_file
    from dativo_defs.engine.events import configure

    from .runtime import airflow_ids, raise_for, report

    # Each event once, at its level: through the `dativo` logger into Airflow's task log (no stdout copy), and
    # no alembic chatter from the Dagster instance's storage.
    configure(lines=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    assets_def = assets_for_job_file(Path(job_file), dagster_retries=False)
    run_tags = {**airflow_ids(context), tags.RETRIES_OWNER: "airflow",
                **{k: v for k, v in assets_def.op.tags.items() if k in (tags.TENANT, tags.JOB)}}
    # With DAGSTER_HOME set, the run and its materializations are recorded in that Dagster instance.
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    try:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # Dagster's debug chatter -> stderr
        name = f"{assets_def.op.name}_job"  # the job's own asset job (definitions.py), not __ephemeral_asset_job__
        job_def = Definitions(assets=[assets_def], jobs=[define_asset_job(name)]).resolve_job_def(name)
        result = job_def.execute_in_process(instance=instance, tags=run_tags, raise_on_error=False, run_config=quiet)
        if result.success:
            return report({"dagster_run_id": result.run_id,
                           "objects": [_plain(e) for e in result.get_asset_materialization_events()]})
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        data = failure.event_specific_data
        assert isinstance(data, StepFailureData)
        error, user = data.error, data.user_failure_data
        kind = user.metadata.get("error_kind") if user is not None else None  # set by dativo_defs.assets (Failure)
        raise_for(str(getattr(kind, "value", kind)), error.message.strip() if error else "dativo run failed")
    finally:
        if not os.environ.get("DAGSTER_HOME"):
            instance.dispose()


def _plain(event: Any) -> dict[str, Any]:
    metadata = event.materialization.metadata
    values = {k: getattr(v, "value", v) for k, v in metadata.items() if k != "dagster/column_schema"}
    return {"asset_key": "/".join(event.asset_key.path), **{k: v if isinstance(v, (int, float, str, bool, type(None)))
                                                            else json.dumps(v, default=str) for k, v in values.items()}}
