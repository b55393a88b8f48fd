"""Render manifest DagSpecs as native Airflow 3 DAGs (airflow.sdk). One function instantiates operators
(modes.make_operator).

- cron: DativoCronTimetable (Dagster's instants, DST included; never a tick due before switch-on/handover).
- interval: DeltaTriggerTimetable at the effective interval (Dagster's sensor granularity, as the sensor).
- retries: owned by Airflow in `in_process`/`subprocess` modes, with ExactCurveRetryPolicy (no jitter, no
  rounding); owned by Dagster in `dagster` mode (retries=0 here).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, DeltaTriggerTimetable

from .manifest import DagSpec, TaskSpec
from .modes import airflow_owns_retries, make_operator
from .settings import START_DATE, ExecutionMode
from .timetable import DativoCronTimetable

STALE_TAG = "dativo:stale-manifest"
MISSING_TAG = "dativo:no-manifest"
PLACEHOLDER_DAG_ID = "dativo_manifest_missing"
PAUSED_TEXT = {"disabled": "disabled in the runner file (enabled: false)",
               "owned_elsewhere": "owned by dagster: defined here but paused, so it never runs twice"}


def timetable(spec: DagSpec) -> Any:
    if spec.kind == "cron":
        assert spec.cron is not None
        return DativoCronTimetable(spec.cron, spec.timezone)
    if spec.kind == "interval":
        assert spec.interval_seconds is not None
        return DeltaTriggerTimetable(timedelta(seconds=spec.interval_seconds))
    return None  # manual trigger only


def airflow_tags(spec: DagSpec) -> list[str]:
    tenant = {t.tenant_id for t in spec.tasks}
    source = {t.source for t in spec.tasks}
    return sorted({*(f"tenant:{t}" for t in tenant), *(f"source:{s}" for s in source),
                   *(f"{k}:{v}" for k, v in spec.tags.items() if not k.startswith("dativo/"))})


def retry_kwargs(task: TaskSpec, mode: ExecutionMode) -> dict[str, Any]:
    """Airflow-side retries: the count and an exact-curve policy; none when Dagster owns the retries."""
    if not airflow_owns_retries(mode):
        return {"retries": 0}
    from .retry import ExactCurveRetryPolicy

    return {"retries": task.retries, "retry_delay": timedelta(seconds=task.retry_delay_seconds),
            "max_retry_delay": timedelta(seconds=task.max_retry_delay_seconds),
            "retry_policy": ExactCurveRetryPolicy(task)}


INVALID_TAG = "dativo:invalid"
INVALID_TASK = "invalid_config"


def refuse(error: str) -> None:
    """The placeholder's only task: fail at once with the error, never retried."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(error)


def _code(text: str) -> str:
    """`text` as Markdown inline code (a backtick inside would end it)."""
    return "`" + text.replace("`", "'") + "`"


def render_invalid_dag(spec: DagSpec, notice: str | None = None) -> DAG:
    """A broken runner entry: paused, no schedule, tagged dativo:invalid, the error in its doc and description;
    a manual run fails fast with the error and runs nothing else."""
    from airflow.providers.standard.operators.python import PythonOperator

    doc = "\n".join([f"**{spec.headline}**", "",
                     *(f"- {_code(issue)}" for issue in spec.issues), "", f"**Fix:** {spec.hint}", "",
                     "(A dativo placeholder: paused; its one task fails with this error and runs nothing.)"])
    if notice:
        doc = f"**Stale:** {notice}\n\n{doc}"
    dag = DAG(dag_id=spec.dag_id, description=spec.description[:1000], schedule=None, catchup=False,
              max_active_runs=1, is_paused_upon_creation=True, tags=[INVALID_TAG] + ([STALE_TAG] if notice else []),
              doc_md=doc, auto_register=False)
    PythonOperator(task_id=INVALID_TASK, python_callable=refuse, op_kwargs={"error": spec.error}, retries=0, dag=dag)
    return dag


def render_dag(spec: DagSpec, mode: ExecutionMode, notice: str | None = None) -> DAG:
    """`notice`: the manifest is stale (parse.py); the DAG is tagged and its doc says what changed."""
    if spec.kind == "invalid":
        return render_invalid_dag(spec, notice)
    description = spec.description + (f" — paused: {PAUSED_TEXT.get(spec.paused_reason, spec.paused_reason)}"
                                      if spec.paused else "")
    # No start_date on cron DAGs: the timetable starts from "now" (see timetable.py).
    start_date = None if spec.kind == "cron" else datetime.fromisoformat(START_DATE).replace(tzinfo=UTC)
    dag = DAG(
        dag_id=spec.dag_id, description=description[:1000], schedule=timetable(spec),
        start_date=start_date, catchup=False,
        max_active_runs=spec.max_active_runs, is_paused_upon_creation=spec.paused,
        tags=airflow_tags(spec) + ([STALE_TAG] if notice else []),
        doc_md=(f"**Stale:** {notice}\n\n" if notice else "")
        + f"Rendered by dativo from the Dagster definitions (owner: {spec.owner}).\n\n{description}",
        auto_register=False,
    )
    operators = {}
    for task in spec.tasks:
        operators[task.task_id] = make_operator(task, spec, mode, dag=dag, pool=task.pool, pool_slots=1,
                                                owner=task.tenant_id, **retry_kwargs(task, mode))
    for task in spec.tasks:
        for upstream in task.upstream:
            operators[upstream] >> operators[task.task_id]
    return dag


def placeholder_dag(notice: str) -> DAG:
    """Stands in for the DAGs while no manifest has been compiled: its doc says what to run."""
    return DAG(dag_id=PLACEHOLDER_DAG_ID, description=notice[:1000], schedule=None, catchup=False,
               is_paused_upon_creation=True, tags=[MISSING_TAG], doc_md=notice, auto_register=False)
