"""Shared pydantic base and field types for the config contract."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

# Names must be valid both as Dagster names (^[A-Za-z0-9_]+$, not a reserved word) and as Airflow
# dag_ids / task_ids (alphanumerics, '-', '.', '_', at most 250 chars): the intersection, starting with a letter.
# tests/config/test_names.py checks this against dagster's and airflow's own validators.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,199}$"
_NAME_RE = re.compile(NAME_PATTERN)
# The longest duration a timedelta holds: Airflow turns intervals and retry delays into timedeltas.
MAX_SECONDS = int(timedelta.max.total_seconds())
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


def check_seconds(value: float | None) -> float | None:
    """A duration both orchestrators can represent: finite and at most MAX_SECONDS."""
    if value is not None and not value <= MAX_SECONDS:  # also false for inf and nan
        raise ValueError(f"must be a finite number of seconds, at most {MAX_SECONDS}")
    return value


SafeName = Annotated[str, AfterValidator(_check_name)]
Timezone = Annotated[str, AfterValidator(_check_timezone)]
