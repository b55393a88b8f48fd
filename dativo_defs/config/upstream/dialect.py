"""Which dialect a job file is in, and the upstream behaviour an upstream-format job keeps (typed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fields only upstream job files have (and upstream requires): their presence selects the upstream dialect.
UPSTREAM_MARKERS = ("source_connector_path", "target_connector_path", "asset")
UPSTREAM_PARTIAL_EXIT = 1  # upstream: 0 success, 1 partial, 2 any failure
UPSTREAM_FAILURE_EXIT = 2
UPSTREAM_RETRYABLE_EXIT_CODES = (1, 2)


def is_upstream(data: Any) -> bool:
    """True when a job document is written in the upstream dialect."""
    return isinstance(data, dict) and any(key in data for key in UPSTREAM_MARKERS)


@dataclass(frozen=True)
class StateFile:
    """An upstream incremental state file and the key of one object's cursor in it."""

    path: Path
    key: str  # "<object>.<cursor_field>"


@dataclass(frozen=True)
class UpstreamCompat:
    """What an upstream-format job means beyond dativo's models.

    - `lookback_days`: upstream's first-run window — with no committed state, read `cursor >= today - N days`
      (dativo's own `lookback` re-reads behind the cursor on every run; this never does).
    - `state_files`: upstream state files per object; the first run (no committed state) starts at their cursor.
    - `retry_configured` / `retryable_exit_codes` / `retryable_error_patterns`: upstream retries only when
      `retry_config` is present, and then a failure (exit code 2) is retried when 2 is in the codes, a partial run
      (exit code 1) when 1 is, and, if patterns are given, one matches the error (case-insensitive). Patterns
      narrow; they never widen.
    - `failure_exit_code`: upstream exits 2 for any failure.
    """

    file: Path
    lookback_days: int = 0
    state_files: dict[str, StateFile] = field(default_factory=dict)
    retry_configured: bool = False
    retryable_exit_codes: tuple[int, ...] = UPSTREAM_RETRYABLE_EXIT_CODES
    retryable_error_patterns: tuple[str, ...] = ()
    failure_exit_code: int = UPSTREAM_FAILURE_EXIT
    ingest_date: bool = False  # add upstream's `ingest_date` column (the run's UTC date), the partition column
    cursor_kind: str = "datetime"  # how a first-run window start is written: datetime | epoch_seconds | iso_text
    unhonoured: tuple[str, ...] = ()  # upstream settings accepted but not reproduced (logged on every run)

    def failure_is_retryable(self, message: str) -> bool:
        """Upstream's retry decision for a failed run (exit code 2) with error text `message`."""
        return self.exit_is_retryable(self.failure_exit_code, message)

    def partial_is_retryable(self, message: str) -> bool:
        """Upstream's retry decision for a partial run (exit code 1: landed with warn-mode contract violations);
        `message` (the violation summary) is matched against the patterns like an error text."""
        return self.exit_is_retryable(UPSTREAM_PARTIAL_EXIT, message)

    def exit_is_retryable(self, exit_code: int, message: str) -> bool:
        """upstream RetryPolicy.should_retry: retry_config present, the exit code listed, and — when patterns are
        given — one of them found in `message` (case-insensitive). Patterns narrow; they never widen."""
        if not self.retry_configured or exit_code not in self.retryable_exit_codes:
            return False
        if not self.retryable_error_patterns or not message:
            return True
        return any(re.search(p, message, re.IGNORECASE) for p in self.retryable_error_patterns)
