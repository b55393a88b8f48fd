"""DativoCronTimetable on its own: Dagster's instants across DST, the first run strictly after switch-on, a tick
missed while paused skipped, scheduler lag within the grace tolerated, and a serialization round trip."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from airflow_bridge.explain import airflow_fires, dagster_fires
from airflow_bridge.timetable import OVERDUE_GRACE, DativoCronTimetable

FREE = TimeRestriction(earliest=None, latest=None, catchup=False)


def at(table: DativoCronTimetable, now: datetime) -> DativoCronTimetable:
    driven = copy.copy(table)
    driven.clock = lambda: now
    return driven


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(("cron", "zone", "start", "gap_fire"), [
    ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), utc(2026, 3, 29, 1, 0)),  # 03:00 CEST, end of the gap
    ("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12), utc(2026, 3, 8, 7, 0)),  # 03:00 EDT
    ("30 2 * * *", "Australia/Sydney", utc(2026, 10, 3, 0), utc(2026, 10, 3, 16, 0)),  # 03:00 AEDT
])
def test_spring_forward_gap_fires_at_the_end_of_the_gap_like_dagster(cron, zone, start, gap_fire):
    table = DativoCronTimetable(cron, zone)
    fires = airflow_fires(table, start, 3)
    assert fires == dagster_fires_for(cron, zone, start, 3)
    assert fires[0] == gap_fire


def dagster_fires_for(cron: str, zone: str, start: datetime, count: int) -> list[datetime]:
    from types import SimpleNamespace

    return dagster_fires(SimpleNamespace(cron_schedule=cron, execution_timezone=zone), start, count)


def test_fall_back_overlap_fires_once_like_dagster():
    start = utc(2026, 10, 24, 12)
    fires = airflow_fires(DativoCronTimetable("30 2 * * *", "Europe/Berlin"), start, 3)
    assert fires == dagster_fires_for("30 2 * * *", "Europe/Berlin", start, 3)
    assert fires[0] == utc(2026, 10, 25, 1, 30)  # once, on the second 02:30 (CET), as Dagster


def test_switch_on_just_after_a_tick_waits_for_the_next_one():
    table = DativoCronTimetable("0 * * * *", "UTC")
    switched_on = utc(2026, 5, 1, 10, 0, 1)
    assert airflow_fires(table, switched_on, 2) == [utc(2026, 5, 1, 11), utc(2026, 5, 1, 12)]
    # A parse right after the tick keeps it (the scheduler may not have created its run yet) ...
    info = at(table, switched_on).next_dagrun_info(last_automated_data_interval=None, restriction=FREE)
    assert info.run_after == utc(2026, 5, 1, 10)
    # ... and the run-creation check refuses it for a DAG switched on after it fell due, but not for one
    # switched on before (a parse landing between the tick and the scheduler's loop must not lose it).
    assert table.refuses(info.run_after, switched_on) and table.refuses(info.run_after, info.run_after)
    assert not table.refuses(info.run_after, utc(2026, 5, 1, 9, 59, 59))


def test_a_parse_between_a_due_tick_and_the_run_keeps_the_tick():
    """Seen live (handover e2e under load): the dag-processor parsed at 10:12:01, before the scheduler created
    the 10:12 run of a DAG unpaused at 10:11:02, and moved the next run to 10:13; the 10:12 tick ran nowhere."""
    table = DativoCronTimetable("* * * * *", "UTC")
    unpaused = utc(2026, 12, 7, 10, 11, 2)
    parse = at(table, utc(2026, 12, 7, 10, 12, 1)).next_dagrun_info(last_automated_data_interval=None,
                                                                      restriction=FREE)
    assert parse.run_after == utc(2026, 12, 7, 10, 12) and not table.refuses(parse.run_after, unpaused)


def test_a_tick_missed_while_paused_is_skipped_but_scheduler_lag_is_not():
    table = DativoCronTimetable("0 * * * *", "UTC")
    last = DataInterval.exact(pendulum.instance(utc(2026, 5, 1, 8)))
    paused_long = at(table, utc(2026, 5, 1, 10, 20)).next_dagrun_info(last_automated_data_interval=last, restriction=FREE)
    assert paused_long.run_after == utc(2026, 5, 1, 11)  # 09:00 and 10:00 fell due while paused: never run
    lagging = at(table, utc(2026, 5, 1, 9) + OVERDUE_GRACE - timedelta(seconds=1)).next_dagrun_info(
        last_automated_data_interval=last, restriction=FREE)
    assert lagging.run_after == utc(2026, 5, 1, 9)  # the scheduler is just late: the tick still runs


def test_serialization_round_trip():
    table = DativoCronTimetable("15 1 * * *", "America/Chicago")
    assert DativoCronTimetable.deserialize(table.serialize()) == table
    assert table.summary == "15 1 * * * (America/Chicago)"
