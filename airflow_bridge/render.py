"""Render manifest DagSpecs as native Airflow 3 DAGs (airflow.sdk). One function instantiates operators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronTriggerTimetable, DeltaTriggerTimetable

from .manifest import DagSpec, TaskSpec
from .modes import make_operator
from .settings import START_DATE, ExecutionMode


def timetable(spec: DagSpec):
    if spec.kind == "cron":
        return CronTriggerTimetable(spec.cron, timezone=spec.timezone)
    if spec.kind == "interval":
        return DeltaTriggerTimetable(timedelta(seconds=spec.interval_seconds))
    return None  # manual trigger only


def airflow_tags(spec: DagSpec) -> list[str]:
    tenant = {t.tenant_id for t in spec.tasks}
    source = {t.source for t in spec.tasks}
    return sorted({*(f"tenant:{t}" for t in tenant), *(f"source:{s}" for s in source),
                   *(f"{k}:{v}" for k, v in spec.tags.items() if not k.startswith("dativo/"))})


def retry_kwargs(task: TaskSpec) -> dict:
    """Airflow 3.3: delay for try n is retry_delay * multiplier**(n-1) (plus Airflow's jitter), capped."""
    kwargs: dict = {"retries": task.retries, "retry_delay": timedelta(seconds=task.retry_delay_seconds)}
    if task.backoff_multiplier > 1:
        kwargs["retry_exponential_backoff"] = task.backoff_multiplier
    if task.max_retry_delay_seconds:
        kwargs["max_retry_delay"] = timedelta(seconds=task.max_retry_delay_seconds)
    return kwargs


def render_dag(spec: DagSpec, mode: ExecutionMode) -> DAG:
    description = spec.description + (f" — paused: {spec.paused_reason}" if spec.paused else "")
    # No start_date on cron DAGs: with one (in the past) and catchup=False, Airflow runs the latest *missed* cron
    # tick as soon as the DAG appears unpaused — on deploy, and on a handover from Dagster, a tick Dagster already
    # ran. Without it, CronTriggerTimetable (run_immediately=False) waits for the next tick, like a Dagster schedule.
    start_date = None if spec.kind == "cron" else datetime.fromisoformat(START_DATE).replace(tzinfo=timezone.utc)
    dag = DAG(
        dag_id=spec.dag_id, description=description[:1000], schedule=timetable(spec),
        start_date=start_date, catchup=False,
        max_active_runs=spec.max_active_runs, is_paused_upon_creation=spec.paused, tags=airflow_tags(spec),
        doc_md=f"Rendered by dativo from the Dagster definitions (owner: {spec.owner}).\n\n{description}",
        auto_register=False,
    )
    operators = {}
    for task in spec.tasks:
        operators[task.task_id] = make_operator(task, spec, mode, dag=dag, pool=task.pool, pool_slots=1,
                                                owner=task.tenant_id, **retry_kwargs(task))
    for task in spec.tasks:
        for upstream in task.upstream:
            operators[upstream] >> operators[task.task_id]
    return dag
