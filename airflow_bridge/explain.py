"""`dativo explain`: for each schedule (and each job for manual runs), the Dagster side and the Airflow side
attribute by attribute.

The Dagster side is read from dativo_defs' Definitions, the Airflow side from the DAGs airflow_bridge renders
(and, with an Airflow URL, from the live deployment: actual pause state and pools). The expected
correspondence is written out here, independently of the renderer, so a renderer bug shows as a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dagster import DefaultScheduleStatus, DefaultSensorStatus, Definitions

from dativo_defs import tags

from .compile import metadata_value


@dataclass
class Row:
    schedule: str
    attribute: str
    dagster: str
    airflow: str
    ok: bool


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value or 0)


def explain(defs: Definitions, dags: dict, live: dict | None = None) -> list[Row]:
    """`dags`: dag_id -> rendered airflow DAG. `live`: optional {"paused": {dag_id: bool}, "pools": {name: slots}}."""
    rows: list[Row] = []
    for trigger in [*defs.schedules, *defs.sensors]:
        name = trigger.name
        dag = dags.get(name)
        add = _adder(rows, name)
        if dag is None:
            add("dag", "defined", "missing", False)
            continue
        table = dag.timetable
        if hasattr(trigger, "cron_schedule"):
            add("cadence", f"cron {trigger.cron_schedule}", f"cron {getattr(table, 'expression', None)}")
            add("timezone", trigger.execution_timezone or "UTC", str(getattr(table, "timezone", None)))
            dagster_running = trigger.default_status is DefaultScheduleStatus.RUNNING
        else:
            add("cadence", f"every {trigger.minimum_interval_seconds}s",
                f"every {int(_seconds(getattr(table, 'delta', 0)))}s")
            dagster_running = trigger.default_status is DefaultSensorStatus.RUNNING
        owner = metadata_value(trigger, tags.OWNER, "dagster")
        disabled = (metadata_value(trigger, tags.PAUSED_REASON, "") or "").startswith("disabled")
        airflow_running = not (live["paused"].get(name, dag.is_paused_upon_creation) if live else dag.is_paused_upon_creation)
        expected_airflow = owner == "airflow" and not disabled
        add("runs in", f"{'dagster' if dagster_running else '-'} (owner {owner}{', disabled' if disabled else ''})",
            "airflow" if airflow_running else "- (paused)",
            ok=airflow_running == expected_airflow and not (dagster_running and airflow_running)
            and dagster_running == (owner == "dagster" and not disabled))
        add("max runs", int(metadata_value(trigger, tags.MAX_CONCURRENT_RUNS, 1)), dag.max_active_runs)
        for key, value in (trigger.tags or {}).items():
            if not key.startswith("dativo/"):
                add(f"tag {key}", value, value if f"{key}:{value}" in dag.tags else "(missing)")
        _task_rows(defs, trigger.job, dag, add, live)
    triggered = {t.job_name for t in [*defs.schedules, *defs.sensors]}
    for job in defs.jobs:  # asset jobs no schedule or sensor triggers: manual DAGs
        if job.name in triggered:
            continue
        name, dag = job.name, dags.get(job.name)
        add = _adder(rows, name)
        if dag is None:
            add("dag", "defined", "missing", False)
            continue
        add("cadence", "manual", "manual" if type(dag.timetable).__name__ == "NullTimetable" else str(dag.timetable))
        _task_rows(defs, job, dag, add, live)
    return rows


def _adder(rows: list[Row], name: str):
    """add(attribute, dagster value, airflow value, ok=None): a row for `name`; ok defaults to equality."""
    def add(attr, dagster, airflow, ok=None) -> None:
        rows.append(Row(name, attr, str(dagster), str(airflow), (dagster == airflow) if ok is None else ok))
    return add


def _task_rows(defs: Definitions, job, dag, add, live: dict | None) -> None:
    """Retries, backoff, pool and tenant of each op of `job` against its task in `dag`."""
    graph = defs.resolve_asset_graph()
    ops = {defs.resolve_assets_def(k).node_def for k in job.selection.resolve(graph)}
    for op in sorted(ops, key=lambda o: o.name):
        task = dag.task_dict.get(op.name)
        if task is None:
            add(f"task {op.name}", "op", "missing", False)
            continue
        policy = op.retry_policy
        add("retries", policy.max_retries if policy else 0, task.retries)
        add("retry delay s", float(policy.delay or 0) if policy else 0.0, _seconds(task.retry_delay))
        multiplier = float(op.tags.get(tags.RETRY_MULTIPLIER, 1.0))
        add("backoff multiplier", multiplier, float(task.retry_exponential_backoff or 1.0))
        add("max retry delay s", float(op.tags.get(tags.RETRY_MAX_DELAY, 0)), _seconds(task.max_retry_delay))
        add("pool", op.pool, task.pool)
        add("tenant", op.tags.get(tags.TENANT), next((t[7:] for t in dag.tags if t.startswith("tenant:")), None))
        slots = int(op.tags.get(tags.POOL_SLOTS, 1))
        if live is not None:
            add("pool slots (live)", slots, live["pools"].get(task.pool, "missing"))


def render_table(rows: list[Row]) -> str:
    header = ("schedule", "attribute", "dagster", "airflow", "")
    table = [header] + [(r.schedule, r.attribute, r.dagster, r.airflow, "ok" if r.ok else "MISMATCH") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)
