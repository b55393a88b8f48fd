"""Shared pydantic base and field types for the config contract."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

# Names must be valid both as Dagster names (^[A-Za-z0-9_]+$, not a reserved word) and as Airflow
# dag_ids / task_ids (alphanumerics, '-', '.', '_', at most 250 chars): the intersection, starting with a letter.
# tests/config/test_names.py checks this against dagster's and airflow's own validators.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,199}$"
_NAME_RE = re.compile(NAME_PATTERN)
# The longest duration dativo accepts (100 years): Airflow adds intervals and retry delays to today's date, which
# overflows long before timedelta.max (interval_seconds: 1e12 is year 33658: OverflowError in the scheduler).
MAX_SECONDS = int(timedelta(days=36525).total_seconds())
# Dagster's strict tag values (asset and op tags carry the tenant and job names): at most 63 characters.
TAG_VALUE_MAX = 63
# Counts the orchestrators store in 32-bit database columns (Airflow's max_active_runs, pool slots).
MAX_DB_INT = 2**31 - 1
# Airflow's DAG tags ("tenant:<id>", "<key>:<value>" of a schedule's tags): at most 100 characters.
AIRFLOW_TAG_MAX = 100
DAGSTER_RESERVED_NAMES = frozenset(
    {"context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict", "output_arg_dict",
     "int", "str", "float", "bool", "input", "output", "type"}
)


class StrictModel(BaseModel):
    """Unknown fields are errors (a typo must not pass silently); models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=True)


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a safe name: use letters, digits and '_', start with a letter, at most 200 "
            "characters (it becomes a Dagster name and an Airflow dag_id)"
        )
    if value in DAGSTER_RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved by Dagster; choose another name")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}, expected an IANA name such as 'UTC' or 'Europe/Berlin'") from None
    return value


_Seconds = TypeVar("_Seconds", bound=float | None)  # the field's own type (int or float, optional or not) comes back


def check_seconds(value: _Seconds) -> _Seconds:
    """A duration both orchestrators can represent: finite and at most MAX_SECONDS."""
    if value is not None and not value <= MAX_SECONDS:  # also false for inf and nan
        raise ValueError(f"must be a finite number of seconds, at most {MAX_SECONDS}")
    return value


def _check_tag_name(value: str) -> str:
    if len(value) > TAG_VALUE_MAX:
        raise ValueError(f"{value[:20]!r}... is {len(value)} characters; at most {TAG_VALUE_MAX} (it is a Dagster tag "
                         "value on every asset of the job)")
    return value


check_name = _check_name  # public: default names (object names from file stems) are checked too
SafeName = Annotated[str, AfterValidator(_check_name)]
TagSafeName = Annotated[str, AfterValidator(_check_name), AfterValidator(_check_tag_name)]
"""A safe name that is also a Dagster tag value: tenant ids and job names."""
Timezone = Annotated[str, AfterValidator(_check_timezone)]
