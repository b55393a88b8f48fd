"""DativoCronTimetable: fires at exactly the instants Dagster's schedule for the same cron and timezone fires.

- DST: the instants come from Dagster's own cron iterator (`dagster._utils.schedules.cron_string_iterator`), so a
  time in a spring-forward gap fires at the end of the gap and a time in a fall-back overlap fires once, as in
  Dagster. It is imported when the scheduler asks for the next run, never while a DAG file is parsed.
- Switch-on and handover: a DAG's first run is the first tick strictly after it was switched on (like a Dagster
  schedule, which starts from the moment it is started); a tick already due then is never run, and no later tick
  is lost. The decision is made right before the scheduler creates a run (`next_run_info_from_dag_model`), from
  Airflow's own records of when the DAG was switched on: the last pause-state change through the REST API / UI
  (audit-log event `patch_dag`) or, for a DAG never paused or unpaused, the creation of its first version. A tick
  that fell due before that moment is skipped (MissedTickSkipped; the scheduler logs it and creates nothing) and
  the DAG's next run is moved to the first tick after now.
  The next run computed elsewhere (every dag-processor parse, and right after a run is created) keeps a tick that
  fell due at most OVERDUE_GRACE ago: a parse landing between a tick and the scheduler's next loop must not move
  the DAG past a tick it is about to run (seen under load: the handover's first Airflow tick was lost that way). A
  tick overdue by more than that was missed while the scheduler was down or the DAG paused: never run.
  catchup stays off.

Registered through an Airflow plugin (airflow_bridge.plugin) so the scheduler and serialization know it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

# The longest a due tick can wait for the scheduler to create its run in normal operation. A tick overdue by
# more was missed while the DAG was paused (or the scheduler down): never run, like Dagster's newly started schedule.
OVERDUE_GRACE = timedelta(seconds=30)
PAUSE_EVENTS = ("patch_dag",)  # audit-log events of a pause/unpause through the REST API (and the UI, which uses it)


class MissedTickSkipped(Exception):
    """A tick fell due while the DAG was paused: not run (Dagster's schedules do not run such ticks either)."""


def dagster_fire_times(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` instants strictly after `after` at which Dagster fires `cron` in `tz` (UTC-aware)."""
    from dagster._utils.schedules import cron_string_iterator

    out: list[datetime] = []
    for tick in cron_string_iterator(after.timestamp(), cron, tz):
        if tick.timestamp() > after.timestamp():
            out.append(tick.astimezone(UTC))
            if len(out) == count:
                break
    return out


def _now() -> datetime:
    return datetime.now(UTC)


class DativoCronTimetable(Timetable):
    """Cron timetable with Dagster's instants; data interval = the tick itself (like CronTriggerTimetable)."""

    periodic = True
    can_be_scheduled = True
    clock: Callable[[], datetime] = staticmethod(_now)  # explain and tests drive it like the scheduler would

    def __init__(self, cron: str, timezone: str) -> None:
        self.cron = cron
        self.timezone_name = timezone
        self.description = f"cron '{cron}' in {timezone} (Dagster's instants)"

    @property
    def summary(self) -> str:
        return f"{self.cron} ({self.timezone_name})"

    def serialize(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone_name}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DativoCronTimetable:
        return cls(data["cron"], data["timezone"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DativoCronTimetable) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.cron, self.timezone_name))

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:
        return DataInterval.exact(run_after)

    def next_fire_after(self, moment: datetime) -> datetime:
        return dagster_fire_times(self.cron, self.timezone_name, moment, 1)[0]

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        import pendulum

        floor = self.clock() - OVERDUE_GRACE  # ticks overdue by more than the grace are never run
        if last_automated_data_interval is None:
            tick = self.next_fire_after(floor)  # switch-on: a tick before the switch-on is refused at run creation
        else:
            tick = self.next_fire_after(last_automated_data_interval.end)
            if tick < floor:  # missed while paused or while the scheduler was down
                tick = self.next_fire_after(floor)
        if restriction.earliest is not None and tick < restriction.earliest:
            tick = self.next_fire_after(restriction.earliest - timedelta(microseconds=1))
        if restriction.latest is not None and tick > restriction.latest:
            return None
        return DagRunInfo.exact(pendulum.instance(tick))

    @staticmethod
    def refuses(run_after: datetime, switched_on: datetime | None) -> bool:
        """A tick that fell due before (or at) the moment the DAG was switched on is never run."""
        return switched_on is not None and switched_on >= run_after

    def next_run_info_from_dag_model(self, *, dag_model: Any) -> DagRunInfo | None:
        """Called by the scheduler right before it creates the stored next run: refuse a tick that fell due
        before the DAG was switched on (it was paused, or did not exist), and move the next run past now."""
        info = super().next_run_info_from_dag_model(dag_model=dag_model)
        if info is None or info.run_after is None:
            return info
        switched_on = _switched_on_at(dag_model)
        if switched_on is None or not self.refuses(info.run_after, switched_on):
            return info
        import pendulum

        tick = pendulum.instance(self.next_fire_after(self.clock()))
        dag_model.next_dagrun = dag_model.next_dagrun_create_after = tick
        dag_model.next_dagrun_data_interval_start = dag_model.next_dagrun_data_interval_end = tick
        raise MissedTickSkipped(f"{dag_model.dag_id}: tick {info.run_after.isoformat()} fell due before the DAG was "
                                f"switched on ({switched_on.isoformat()}): not run; next run {tick}")


def _switched_on_at(dag_model: Any) -> datetime | None:
    """When the DAG was switched on, from Airflow's own records: its last pause-state change through the REST API
    (audit log) or else the creation of its first version (a DAG created unpaused)."""
    from airflow.models.dag_version import DagVersion
    from airflow.models.log import Log
    from sqlalchemy import func, select
    from sqlalchemy.orm import object_session

    session = object_session(dag_model)
    if session is None:
        return None
    changed = session.scalar(select(func.max(Log.dttm)).where(Log.dag_id == dag_model.dag_id,
                                                             Log.event.in_(PAUSE_EVENTS)))
    if changed is not None:
        return changed
    return session.scalar(select(func.min(DagVersion.created_at)).where(DagVersion.dag_id == dag_model.dag_id))
