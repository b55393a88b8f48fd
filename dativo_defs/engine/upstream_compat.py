"""Run-time behaviour of upstream-format jobs (config/upstream/): the first run's cursor and the retry decision.

- With no committed state, the first run starts at the cursor of upstream's state file (migration, logged as
  `state_migrated`), else at upstream's first-run window `today - lookback_days` (logged as
  `first_run_window`). Once dativo has committed state, neither applies again.
- Jobs partitioned by `ingest_date` get that column (the run's UTC date) on every batch.
- A failed run is retried (error_kind transient) exactly when upstream would retry it; see
  UpstreamCompat.failure_is_retryable. The engine's own classification is kept in the event as `native_kind`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..config.upstream.dialect import UpstreamCompat
from .errors import ErrorKind
from .events import EventLog
from .sources.base import State, Stream, encode_cursor


def first_run_state(compat: UpstreamCompat | None, stream: Stream, events: EventLog) -> State | None:
    """The state an upstream-format job's first run starts from, or None (read everything)."""
    if compat is None or not stream.cursor_field:
        return None
    state_file = compat.state_files.get(stream.object)
    if state_file is not None and state_file.path.is_file():
        try:
            entry = json.loads(state_file.path.read_text(encoding="utf-8")).get(state_file.key)
        except (OSError, ValueError, AttributeError) as exc:
            events.emit("state_migration_skipped", object=stream.object, state_file=str(state_file.path),
                        reason=f"{type(exc).__name__}: unreadable upstream state file")
            entry = None
        if isinstance(entry, dict) and entry.get("last_value") is not None:
            cursor = _typed(entry["last_value"], compat.cursor_kind)
            events.emit("state_migrated", object=stream.object, state_file=str(state_file.path), key=state_file.key,
                        cursor=str(cursor))
            return {"cursor": encode_cursor(cursor)}
    if compat.lookback_days > 0:
        today = dt.datetime.now(dt.UTC).date()
        start = dt.datetime.combine(today - dt.timedelta(days=compat.lookback_days), dt.time())
        cursor = _window_start(start, compat.cursor_kind)
        events.emit("first_run_window", object=stream.object, lookback_days=compat.lookback_days, since=start.isoformat())
        return {"cursor": encode_cursor(cursor)}
    return None


def _typed(value: Any, kind: str) -> Any:
    """Upstream state values are JSON: timestamps as ISO text, ids and epochs as numbers."""
    if kind == "datetime" and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed
    return value


def _window_start(start: dt.datetime, kind: str) -> Any:
    """`cursor >= start` written as the engine's strict `cursor > value`."""
    if kind == "epoch_seconds":
        return int(start.replace(tzinfo=dt.UTC).timestamp()) - 1
    if kind == "iso_text":
        return (start - dt.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return start - dt.timedelta(microseconds=1)


def with_ingest_date(compat: UpstreamCompat | None, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`batches`, with upstream's `ingest_date` partition column (the run's UTC date) appended when the job
    partitions by it; unchanged otherwise."""
    if compat is None or not compat.ingest_date:
        return batches
    day = dt.datetime.now(dt.UTC).date()

    def added() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if "ingest_date" in batch.schema.names:
                yield batch
            else:
                yield batch.append_column(pa.field("ingest_date", pa.date32()),
                                          pa.array([day] * batch.num_rows, pa.date32()))

    return added()


def failure_kind(compat: UpstreamCompat | None, native: ErrorKind, message: str) -> ErrorKind:
    """Transient (retried) exactly when upstream would retry; dativo's own kind when not in the upstream dialect."""
    if compat is None:
        return native
    return ErrorKind.TRANSIENT if compat.failure_is_retryable(message) else ErrorKind.PERMANENT


def partial_retry(compat: UpstreamCompat | None, violations: dict[str, dict[str, int]]) -> str | None:
    """For a partial run (landed with warn-mode contract violations) that upstream would retry (exit code 1 in
    `retryable_exit_codes`): the text the retry is decided and reported on; None when it is not retried."""
    if compat is None:
        return None
    message = "partial run (exit code 1): contract violations " + "; ".join(
        f"{obj}: {', '.join(f'{rule}={count}' for rule, count in sorted(counts.items()))}"
        for obj, counts in violations.items() if counts)
    return message if compat.partial_is_retryable(message) else None
