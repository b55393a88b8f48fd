"""Cron validation shared by both orchestrators: only what Dagster and Airflow both accept."""

from __future__ import annotations

from datetime import datetime, timezone

from croniter import CroniterBadDateError, croniter

# Aliases that Dagster schedules and Airflow's CronTriggerTimetable both understand.
CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def normalize_cron(expr: str) -> str:
    """Return the 5-field form of `expr`, or raise ValueError saying what is expected."""
    expr = " ".join(expr.split())
    expanded = CRON_ALIASES.get(expr, expr)
    if len(expanded.split()) != 5 or not croniter.is_valid(expanded):
        raise ValueError(
            f"invalid cron expression {expr!r}: expected 5 fields 'minute hour day-of-month month day-of-week' "
            f"(e.g. '*/15 * * * *') or one of {', '.join(sorted(CRON_ALIASES))}"
        )
    try:  # rejects expressions that never fire, such as "0 0 30 2 *" (Dagster refuses those too)
        croniter(expanded, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expr!r} never fires (no such date)") from None
    return expanded
