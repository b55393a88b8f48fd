"""Engine events into a Dagster run's structured event log (`context.log`), at their levels, so the run page
shows and searches them (the JSON lines still go to the captured stderr)."""

from __future__ import annotations

import logging
from typing import Any

from .engine.events import Event, Listener

_SKIP = {"timestamp", "level", "event_type", "tenant_id", "job", "source_type", "target_type", "run_id", "caller",
         "caller_run_ids"}


def message(event: Event) -> str:
    """`commit object=orders rows=300 ...`: the event type, then its own fields (the run's fields are the run's)."""
    details = " ".join(f"{key}={value}" for key, value in event.record.items() if key not in _SKIP)
    return f"{event.event_type} {details}".strip()


def to_context_log(log: Any, level: int | str = logging.INFO) -> Listener:
    """A listener for `engine.events.listening` that logs each event at or above `level` to `log` (context.log)."""
    threshold = logging.getLevelName(level) if isinstance(level, str) else level

    def listener(event: Event) -> None:
        if event.level >= threshold:
            log.log(event.level, message(event))

    return listener
