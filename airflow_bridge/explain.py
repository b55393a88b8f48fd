"""`dativo explain`: for each schedule (and each job for manual runs), the Dagster side and the Airflow side,
attribute by attribute and by behaviour.

The Dagster side is read from dativo_defs' Definitions (each trigger's and op's typed contract, and the
Dagster objects themselves), the Airflow side from the DAGs airflow_bridge renders (and, with an Airflow URL,
from the live deployment: actual pause state and pools). Behaviour is compared, not only settings:
- the next N fire instants from a given time (Dagster's cron iterator vs the rendered timetable driven like
  the scheduler drives it), across DST changes;
- the wait before each retry (the curve Dagster's RetryRequested uses vs what the rendered task's retry policy
  returns), and which side owns retries;
- the effective interval, the owner and where the trigger runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import DefaultScheduleStatus, DefaultSensorStatus, Definitions

from dativo_defs.config.runner import OrchestratorType
from dativo_defs.contract import TriggerContract, invalid_contract, op_contract, trigger_contract

from .settings import ExecutionMode

FIRE_COUNT = 6


@dataclass
class Row:
    schedule: str
    attribute: str
    dagster: str
    airflow: str
    ok: bool


Add = Callable[..., None]


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value or 0)


def dagster_fires(trigger: Any, start: datetime, count: int) -> list[datetime]:
    """Dagster's own fire instants for a ScheduleDefinition (its cron iterator, its DST rule)."""
    from dagster._utils.schedules import cron_string_iterator

    out = []
    for tick in cron_string_iterator(start.timestamp(), trigger.cron_schedule, trigger.execution_timezone or "UTC"):
        if tick.timestamp() > start.timestamp():
            out.append(tick.astimezone(UTC))
        if len(out) == count:
            return out
    return out


def airflow_fires(table: Any, start: datetime, count: int) -> list[datetime]:
    """Drive a rendered timetable as the scheduler does: first run from `start`, then each next run computed
    right after the previous one was created (at its tick). A timetable without dativo's clock (e.g. Airflow's
    CronTriggerTimetable) is driven from `start` as its earliest time, so its own cron rule shows."""
    import copy

    import pendulum
    from airflow.timetables.base import DagRunInfo, TimeRestriction

    out: list[datetime] = []
    last = None
    clock = [start]
    driven = copy.copy(table)
    if hasattr(driven, "clock"):
        driven.clock = lambda: clock[0]
        restriction = TimeRestriction(earliest=None, latest=None, catchup=False)
    else:
        restriction = TimeRestriction(earliest=pendulum.instance(start + timedelta(microseconds=1)), latest=None,
                                      catchup=True)
    while len(out) < count:
        info = driven.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        if hasattr(driven, "refuses") and driven.refuses(info.run_after, switched_on=start):
            info = DagRunInfo.exact(pendulum.instance(driven.next_fire_after(start)))  # as at run creation
        out.append(info.run_after.astimezone(UTC))
        last, clock[0] = info.data_interval, info.run_after
    return out


def _cron_of(table: Any) -> str:
    """'<cron> <timezone>' of a cron timetable, ours or Airflow's (from its serialized form)."""
    data = table.serialize() if hasattr(table, "serialize") else {}
    return f"{data.get('cron', data.get('expression'))} {data.get('timezone')}"


def airflow_retry_waits(task: Any) -> list[float] | str:
    """What Airflow waits before each retry of a rendered task (its retry policy's decision)."""
    policy = getattr(task, "retry_policy", None)
    if not task.retries:
        return []
    if policy is None:
        return "airflow backoff (jitter)"
    return [_seconds(policy.evaluate(RuntimeError("transient"), n, task.retries + 1).retry_delay)
            for n in range(1, task.retries + 1)]


def explain(defs: Definitions, dags: dict[str, Any], live: dict[str, Any] | None = None,
            mode: ExecutionMode = ExecutionMode.IN_PROCESS, start: datetime | None = None,
            fire_count: int = FIRE_COUNT) -> list[Row]:
    """`dags`: dag_id -> rendered airflow DAG. `live`: optional {"paused": {dag_id: bool}, "pools": {name: slots}}.
    `start`: fire instants are compared from this time (default: now)."""
    start = start or datetime.now(UTC)
    rows: list[Row] = []
    triggers: list[Any] = [*(defs.schedules or []), *(defs.sensors or [])]
    for trigger in triggers:
        name = trigger.name
        dag = dags.get(name)
        add = _adder(rows, name)
        if dag is None:
            add("dag", "defined", "missing", False)
            continue
        invalid = invalid_contract(trigger)
        if invalid is not None:  # a broken runner entry: a placeholder on both sides, running nothing
            stopped = trigger.default_status is DefaultSensorStatus.STOPPED
            paused = live["paused"].get(name, dag.is_paused_upon_creation) if live else dag.is_paused_upon_creation
            add("invalid", f"{'stopped' if stopped else 'RUNNING'} placeholder: {invalid.headline}",
                f"{'paused' if paused else 'UNPAUSED'} placeholder ({', '.join(sorted(dag.tags))})",
                ok=stopped and bool(paused) and "dativo:invalid" in dag.tags)
            continue
        contract = trigger_contract(trigger)
        table = dag.timetable
        if hasattr(trigger, "cron_schedule"):
            add("cadence", f"cron {trigger.cron_schedule} {trigger.execution_timezone or 'UTC'}",
                "cron " + _cron_of(table))
            fires = [t.isoformat() for t in dagster_fires(trigger, start, fire_count)]
            add(f"next {fire_count} fires", " ".join(fires),
                " ".join(t.isoformat() for t in airflow_fires(table, start, fire_count)))
            dagster_running = trigger.default_status is DefaultScheduleStatus.RUNNING
        else:
            add("effective interval", f"every {trigger.minimum_interval_seconds}s",
                f"every {int(_seconds(getattr(table, 'delta', 0)))}s")
            if contract.interval_seconds != contract.effective_interval_seconds:
                add("configured interval", f"{contract.interval_seconds}s (rounded up to the sensor granularity)",
                    f"{contract.interval_seconds}s (rounded up to the sensor granularity)")
            dagster_running = trigger.default_status is DefaultSensorStatus.RUNNING
        _runs_in(add, contract, dag, dagster_running, live)
        add("max runs", contract.max_concurrent_runs, dag.max_active_runs)
        for key, value in contract.tags.items():
            if not key.startswith("dativo/"):
                add(f"tag {key}", value, value if f"{key}:{value}" in dag.tags else "(missing)")
        _task_rows(defs, trigger.job, dag, add, live, mode)
    triggered = {t.job_name for t in triggers}
    for job in defs.jobs or []:  # asset jobs no schedule or sensor triggers: manual DAGs
        if job.name in triggered:
            continue
        name, manual_dag = job.name, dags.get(job.name)
        add = _adder(rows, name)
        if manual_dag is None:
            add("dag", "defined", "missing", False)
            continue
        add("cadence", "manual",
            "manual" if type(manual_dag.timetable).__name__ == "NullTimetable" else str(manual_dag.timetable))
        _task_rows(defs, job, manual_dag, add, live, mode)
    return rows


def _runs_in(add: Add, contract: TriggerContract, dag: Any, dagster_running: bool, live: dict[str, Any] | None) -> None:
    paused = live["paused"].get(contract.name, dag.is_paused_upon_creation) if live else dag.is_paused_upon_creation
    airflow_running = not paused
    expected_dagster = contract.runs_on(OrchestratorType.DAGSTER)
    expected_airflow = contract.runs_on(OrchestratorType.AIRFLOW)
    note = f"owner {contract.owner.value}{'' if contract.enabled else ', disabled'}"
    add("runs in", f"{'dagster' if dagster_running else '-'} ({note})", "airflow" if airflow_running else "- (paused)",
        ok=airflow_running == expected_airflow and dagster_running == expected_dagster
        and not (dagster_running and airflow_running))


def _adder(rows: list[Row], name: str) -> Add:
    """add(attribute, dagster value, airflow value, ok=None): a row for `name`; ok defaults to equality."""
    def add(attr: str, dagster: Any, airflow: Any, ok: bool | None = None) -> None:
        rows.append(Row(name, attr, str(dagster), str(airflow), (dagster == airflow) if ok is None else ok))
    return add


def _task_rows(defs: Definitions, job: Any, dag: Any, add: Add, live: dict[str, Any] | None,
               mode: ExecutionMode) -> None:
    """Retry behaviour, pool and tenant of each op of `job` against its task in `dag`."""
    from .modes import airflow_owns_retries

    graph = defs.resolve_asset_graph()
    assets_defs = {defs.resolve_assets_def(k).node_def.name: defs.resolve_assets_def(k)
                   for k in job.selection.resolve(graph)}
    for op_name in sorted(assets_defs):
        contract = op_contract(assets_defs[op_name])
        task = dag.task_dict.get(op_name)
        if task is None:
            add(f"task {op_name}", "op", "missing", False)
            continue
        curve = contract.retry
        if airflow_owns_retries(mode):
            add("retries", curve.max_retries, task.retries)
            add("retry waits s", curve.waits(), airflow_retry_waits(task))
        else:  # Dagster retries inside its run; Airflow must not add a loop of its own
            add("retries", f"{curve.max_retries} (dagster owns)", f"{task.retries} (none of its own)",
                ok=task.retries == 0)
        add("pool", contract.pool, task.pool)
        add("tenant", contract.tenant_id, next((t[7:] for t in dag.tags if t.startswith("tenant:")), None))
        if live is not None:
            add("pool slots (live)", contract.pool_slots, live["pools"].get(task.pool, "missing"))


def render_table(rows: list[Row]) -> str:
    header = ("schedule", "attribute", "dagster", "airflow", "")
    table = [header] + [(r.schedule, r.attribute, r.dagster, r.airflow, "ok" if r.ok else "MISMATCH") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
