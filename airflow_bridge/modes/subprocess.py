"""`subprocess` mode: the task runs `dativo run --config JOB --json` in a child process (isolation). Airflow owns
the retries: an exit code in the job's `retry_config.retryable_exit_codes` is retried, any other failure
fails fast; 0 (success) and 1 (partial: warn-mode contract violations) succeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..manifest import DagSpec, TaskSpec

AIRFLOW_OWNS_RETRIES = True
SUCCESS_CODES = (0, 1)


def build(task: TaskSpec, spec: DagSpec, **airflow_kwargs: Any) -> Any:
    from airflow.providers.standard.operators.python import PythonOperator

    return PythonOperator(task_id=task.task_id, python_callable=run_subprocess,
                          op_kwargs={"job_file": task.job_file, "retryable_exit_codes": list(task.retryable_exit_codes)},
                          **airflow_kwargs)


def run_subprocess(job_file: str, retryable_exit_codes: list[int], **context: Any) -> dict[str, Any]:
    from dativo_defs.engine.context import CALLER_RUN_IDS_ENV

    from .runtime import TransientTaskError, airflow_ids, fail_permanently, report

    env = {**os.environ, CALLER_RUN_IDS_ENV: json.dumps({"caller": "airflow", **airflow_ids(context)})}
    dativo = Path(sys.executable).parent / "dativo"  # the console script (`-m dativo_defs.cli` re-imports cli)
    proc = subprocess.run([str(dativo), "run", "--config", job_file, "--json"], capture_output=True, text=True, env=env)
    sys.stderr.write(proc.stderr)  # the engine's JSON log lines, into the task log
    result = _last_json(proc.stdout)
    if proc.returncode in SUCCESS_CODES and "status" in result:  # exit 1 without a result is a crash, not partial
        return report(result)
    message = f"dativo run exited {proc.returncode}: {result.get('error') or proc.stderr.strip()[-500:]}"
    if proc.returncode in retryable_exit_codes:
        raise TransientTaskError(message)
    fail_permanently(message)


def _last_json(stdout: str) -> dict[str, Any]:
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
