"""Cron validation shared by both orchestrators: only what Dagster and Airflow both accept."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

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


_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")


def _field_re(names: str = "") -> re.Pattern[str]:
    value = rf"(?:\d+{'|' + names if names else ''})"
    item = rf"(?:\*|{value}(?:-{value})?)(?:/\d+)?"
    return re.compile(rf"^{item}(?:,{item})*$", re.IGNORECASE)


# Standard cron only: numbers, names, '*', ranges, steps and lists. Quartz/croniter extensions (W, L, #, ?)
# are refused: Dagster refuses `W` and `5L`, and the two orchestrators need not agree on the others.
_FIELD_RES = (_field_re(), _field_re(), _field_re(), _field_re(_MONTHS), _field_re(_DAYS))


def _dialect_problem(fields: list[str]) -> str | None:
    for name, text, pattern in zip(_FIELD_NAMES, fields, _FIELD_RES, strict=True):
        if not pattern.match(text):
            return f"{name} field {text!r} uses syntax outside standard cron (W, L, #, ? are not supported)"
    if fields[2] != "*" and fields[4] != "*":
        return ("restricts both day-of-month and day-of-week, which cron reads as 'either one' (rarely what is "
                "meant); dativo accepts one of them: set the other to '*'")
    return None


@lru_cache(maxsize=4096)  # a pure function; projects repeat a few expressions across many schedules
def normalize_cron(expr: str) -> str:
    """Return the 5-field form of `expr`, or raise ValueError saying what is expected."""
    expr = " ".join(expr.split())
    expanded = CRON_ALIASES.get(expr, expr)
    if len(expanded.split()) != 5 or not croniter.is_valid(expanded):
        raise ValueError(
            f"invalid cron expression {expr!r}: expected 5 fields 'minute hour day-of-month month day-of-week' "
            f"(e.g. '*/15 * * * *') or one of {', '.join(sorted(CRON_ALIASES))}"
        )
    problem = _dialect_problem(expanded.split())
    if problem:
        raise ValueError(f"cron expression {expr!r} {problem}")
    try:  # rejects expressions that never fire, such as "0 0 30 2 *" (Dagster refuses those too)
        croniter(expanded, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expr!r} never fires (no such date)") from None
    return expanded
