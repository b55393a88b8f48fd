"""The first run's cursor of an upstream-format job, per cursor kind: from upstream's state file, else from the
`lookback_days` window (written so the engine's strict `cursor > value` means upstream's `cursor >= start`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dativo_defs.config.upstream.dialect import StateFile, UpstreamCompat
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.events import EventLog
from dativo_defs.engine.sources.base import Stream, cursor_of
from dativo_defs.engine.upstream_compat import first_run_state

EVENTS = EventLog("acme", "j", "postgres", "iceberg", RunContext())
STREAM = Stream(object="orders", cursor_field="updated_at")


def window_start(days: int) -> dt.datetime:
    return dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days), dt.time())


@pytest.mark.parametrize("kind, expected", [
    ("datetime", lambda start: start - dt.timedelta(microseconds=1)),
    ("epoch_seconds", lambda start: int(start.replace(tzinfo=dt.timezone.utc).timestamp()) - 1),
    ("iso_text", lambda start: (start - dt.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
])
def test_lookback_window_per_cursor_kind(tmp_path: Path, kind: str, expected) -> None:
    compat = UpstreamCompat(file=tmp_path / "j.yaml", lookback_days=2, cursor_kind=kind)
    assert cursor_of(first_run_state(compat, STREAM, EVENTS)) == expected(window_start(2))


def test_state_file_wins_over_the_window_and_is_typed(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"orders.updated_at": {"last_value": "2025-03-04T05:06:07.123456"},
                                 "other.updated_at": {"last_value": "1999-01-01T00:00:00"}}))
    compat = UpstreamCompat(file=tmp_path / "j.yaml", lookback_days=2,
                            state_files={"orders": StateFile(state, "orders.updated_at")})
    assert cursor_of(first_run_state(compat, STREAM, EVENTS)) == dt.datetime(2025, 3, 4, 5, 6, 7, 123456)
    numeric = UpstreamCompat(file=tmp_path / "j.yaml", cursor_kind="epoch_seconds",
                             state_files={"orders": StateFile(state, "orders.created")})
    state.write_text(json.dumps({"orders.created": {"last_value": 1700000000}}))
    assert cursor_of(first_run_state(numeric, STREAM, EVENTS)) == 1700000000


@pytest.mark.parametrize("content", ["not json", "[1, 2]", json.dumps({"orders.updated_at": "no last_value"})])
def test_unusable_state_file_falls_back_to_the_window(tmp_path: Path, content: str) -> None:
    state = tmp_path / "s.json"
    state.write_text(content)
    compat = UpstreamCompat(file=tmp_path / "j.yaml", lookback_days=1,
                            state_files={"orders": StateFile(state, "orders.updated_at")})
    assert cursor_of(first_run_state(compat, STREAM, EVENTS)) == window_start(1) - dt.timedelta(microseconds=1)


def test_nothing_applies_without_cursor_window_or_dialect(tmp_path: Path) -> None:
    compat = UpstreamCompat(file=tmp_path / "j.yaml", lookback_days=3)
    assert first_run_state(compat, Stream(object="orders"), EVENTS) is None  # no cursor: full read, as upstream
    assert first_run_state(UpstreamCompat(file=tmp_path / "j.yaml"), STREAM, EVENTS) is None  # lookback 0: all rows
    assert first_run_state(None, STREAM, EVENTS) is None  # dativo's own dialect
