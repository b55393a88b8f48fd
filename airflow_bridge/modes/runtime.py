"""What an Airflow task runs in `in_process` and `subprocess` modes. Imported by the worker at run time only.

Airflow owns the retries here: the Dagster run is tagged so the asset does not retry inside the task (one
retry loop), and the failure kind decides: transient -> an ordinary exception (Airflow retries per policy),
permanent -> AirflowFailException (no retry).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _fail_permanently(message: str):
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


class TransientTaskError(RuntimeError):
    """A transient dativo failure: Airflow retries the task per its retry policy."""


def run_task(job_file: str, mode: str, **context: Any) -> dict[str, Any]:
    """Materialize the job's assets; return the engine metrics (pushed to XCom as return_value)."""
    ids = _airflow_ids(context)
    metrics = _run_subprocess(job_file, ids) if mode == "subprocess" else _run_in_process(job_file, ids)
    print("dativo metrics: " + json.dumps(metrics, default=str))
    return metrics


def _airflow_ids(context: dict[str, Any]) -> dict[str, str]:
    ti = context.get("ti")
    return {"airflow/dag_id": str(getattr(ti, "dag_id", "")), "airflow/run_id": str(getattr(ti, "run_id", "")),
            "airflow/task_id": str(getattr(ti, "task_id", "")), "airflow/try_number": str(getattr(ti, "try_number", ""))}


def _run_in_process(job_file: str, ids: dict[str, str]) -> dict[str, Any]:
    from dagster import DagsterInstance, Definitions, define_asset_job

    from dativo_defs import tags
    from dativo_defs.assets import assets_for_job_file
    from dativo_defs.engine.events import configure

    # Each event once, at its level: through the `dativo` logger into Airflow's task log (no stdout copy), and
    # no alembic chatter from the Dagster instance's storage.
    configure(lines=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    assets_def = assets_for_job_file(Path(job_file))
    run_tags = {**ids, tags.RETRIES_OWNER: "airflow", **{k: v for k, v in assets_def.op.tags.items()
                                                         if k in (tags.TENANT, tags.JOB)}}
    # With DAGSTER_HOME set, the run and its materializations are recorded in that Dagster instance.
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    try:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # Dagster's debug chatter -> stderr
        name = f"{assets_def.op.name}_job"  # the job's own asset job (definitions.py), not __ephemeral_asset_job__
        job_def = Definitions(assets=[assets_def], jobs=[define_asset_job(name)]).resolve_job_def(name)
        result = job_def.execute_in_process(instance=instance, tags=run_tags, raise_on_error=False, run_config=quiet)
        if result.success:
            return {"dagster_run_id": result.run_id, "objects": [_plain(e) for e in result.get_asset_materialization_events()]}
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        error = failure.event_specific_data.error
        message = error.message.strip() if error else "dativo run failed"
        if "transient failure" in message:
            raise TransientTaskError(message)
        _fail_permanently(message)
    finally:
        if not os.environ.get("DAGSTER_HOME"):
            instance.dispose()


def _plain(event) -> dict[str, Any]:
    metadata = event.materialization.metadata
    values = {k: getattr(v, "value", v) for k, v in metadata.items() if k != "dagster/column_schema"}
    return {"asset_key": "/".join(event.asset_key.path), **{k: v if isinstance(v, (int, float, str, bool, type(None)))
                                                            else json.dumps(v, default=str) for k, v in values.items()}}


def _run_subprocess(job_file: str, ids: dict[str, str]) -> dict[str, Any]:
    from dativo_defs.engine.context import CALLER_RUN_IDS_ENV

    env = {**os.environ, CALLER_RUN_IDS_ENV: json.dumps({"caller": "airflow", **ids})}
    proc = subprocess.run([sys.executable, "-m", "dativo_defs.cli", "run", "--config", job_file, "--json"],
                          capture_output=True, text=True, env=env)
    sys.stderr.write(proc.stderr)  # the engine's JSON log lines, into the task log
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    if proc.returncode in (0, 1):
        return result
    message = f"dativo run exited {proc.returncode}: {result.get('error') or proc.stderr.strip()[-500:]}"
    if proc.returncode == 3:
        raise TransientTaskError(message)
    _fail_permanently(message)
