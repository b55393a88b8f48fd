"""Our name and cron rules are checked against what Dagster and Airflow themselves accept, so a config that
validates here can never be rejected later by either orchestrator."""

from __future__ import annotations

import pytest
from airflow.sdk.definitions._internal.node import validate_key
from airflow.sdk.definitions.dag import TAG_MAX_LEN
from airflow.timetables.trigger import CronTriggerTimetable
from dagster._core.definitions.utils import check_valid_name
from dagster._utils.schedules import is_valid_cron_string
from dagster._utils.tags import is_valid_strict_tag_value
from pydantic import TypeAdapter, ValidationError

from dativo_defs.config.base import AIRFLOW_TAG_MAX, MAX_SECONDS, TAG_VALUE_MAX, SafeName, TagSafeName
from dativo_defs.config.cadence import CRON_ALIASES, normalize_cron

NAMES = ["orders", "acme_orders_hourly", "A1", "x" * 200, "x" * 201, "1abc", "_x", "a-b", "a.b", "a b",
         "drop;table", "../etc", "", "ünïcode", "config", "context", "input"]
CRONS = ["* * * * *", "*/15 * * * *", "5 4 * * sun", "0 0 1,15 * *", "0 9-17 * * 1-5", "61 * * * *",
         "* * * *", "* * * * * *", "@fortnightly", "0 0 30 2 *", "abc", "0 0 1W * *", "0 0 L * *", "0 0 * * 5L",
         "0 0 * * 1#2", "0 0 ? * *", "0 0 1 * 1", "0 0 1 JAN,JUL *", *CRON_ALIASES]


@pytest.mark.parametrize("name", NAMES)
def test_safe_names_are_valid_for_both_orchestrators(name):
    try:
        TypeAdapter(SafeName).validate_python(name)
    except ValidationError:
        return  # we may be stricter than the orchestrators, never looser
    check_valid_name(name)
    validate_key(name)


@pytest.mark.parametrize("expr", CRONS)
def test_accepted_crons_work_in_both_orchestrators(expr):
    try:
        normalized = normalize_cron(expr)
    except ValueError:
        return
    assert is_valid_cron_string(normalized)
    CronTriggerTimetable(normalized, timezone="Europe/Berlin")


def test_common_crons_are_accepted():
    for expr in ("* * * * *", "*/15 * * * *", "5 4 * * sun", "@daily", "@hourly"):
        normalize_cron(expr)


@pytest.mark.parametrize("name", NAMES + ["t" * 63, "t" * 64])
def test_tenant_and_job_names_are_valid_dagster_tag_values(name):
    try:
        TypeAdapter(TagSafeName).validate_python(name)
    except ValidationError:
        return
    assert is_valid_strict_tag_value(name)


def test_reproduced_limits_are_the_orchestrators_own():
    """The limits the config layer cannot import (it may not import an orchestrator) are pinned here."""
    assert AIRFLOW_TAG_MAX == TAG_MAX_LEN
    assert is_valid_strict_tag_value("x" * TAG_VALUE_MAX) and not is_valid_strict_tag_value("x" * (TAG_VALUE_MAX + 1))
    assert MAX_SECONDS == 100 * 365.25 * 86400
