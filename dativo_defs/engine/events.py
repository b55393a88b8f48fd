"""Structured JSON log lines, one per event, with secret values masked.

Every line carries timestamp, level, event_type, tenant_id, job, source/target types and the caller's run ids,
so an orchestrator's log viewer and a log pipeline read the same facts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from .context import RunContext
from .redaction import redact

LOGGER_NAME = "dativo"
EVENT_LOG_ENV = "DATIVO_EVENT_LOG"  # optional file that also receives every event line (JSON lines)


@dataclass(frozen=True)
class Event:
    """One engine event as a listener receives it: the record (secrets masked) and its JSON line."""

    event_type: str
    level: int  # a logging level
    record: dict[str, Any]
    line: str


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Hand every event of the runs inside the block to `listener`, whatever the job's log level (a listener
    filters for itself: the CLI's console and JSON sinks use it)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def configure(stream: TextIO | None = None, *, lines: bool = True) -> None:
    """Send event lines to `stream` (default stderr; Airflow tasks use stdout, which Airflow logs as INFO) and,
    with DATIVO_EVENT_LOG set, to that file too. `lines=False`: no stream (a listener prints instead).
    Idempotent unless a stream or lines=False is given."""
    logger = logging.getLogger(LOGGER_NAME)
    if getattr(logger, "_dativo_configured", False) and stream is None and lines:
        return
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if lines:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    else:
        logger.addHandler(logging.NullHandler())
    if os.environ.get(EVENT_LOG_ENV):
        file_handler = logging.FileHandler(os.environ[EVENT_LOG_ENV], encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(file_handler)
    logger._dativo_configured = True  # type: ignore[attr-defined]


class EventLog:
    """Emits the events of one run."""

    def __init__(self, tenant_id: str, job: str, source_type: str, target_type: str, context: RunContext,
                 level: str = "INFO", redaction: bool = True):
        configure()
        self.logger = logging.getLogger(LOGGER_NAME)
        self.logger.setLevel(level)
        self.redaction = redaction
        self.base = {"tenant_id": tenant_id, "job": job, "source_type": source_type, "target_type": target_type,
                     "run_id": context.run_id, "caller": context.caller, "caller_run_ids": dict(context.run_ids)}
        self.started = time.monotonic()

    def emit(self, event_type: str, level: int = logging.INFO, **fields: Any) -> None:
        enabled = self.logger.isEnabledFor(level)
        if not enabled and not _listeners:
            return
        record = {"timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
                  "level": logging.getLevelName(level), "event_type": event_type, **self.base, **fields}
        line = json.dumps(record, default=str, sort_keys=False)
        if self.redaction:
            line = redact(line)
        if enabled:
            self.logger.log(level, line)
        if _listeners:
            event = Event(event_type, level, json.loads(line) if self.redaction else record, line)
            for listener in list(_listeners):
                listener(event)

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)
