"""Reading the engine's JSON event lines (DATIVO_EVENT_LOG) in end-to-end tests: when each run was busy."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

Span = tuple[float, float]


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def tenant_spans(events: list[dict]) -> dict[str, list[Span]]:
    """Per tenant, the (job_started, job_finished|job_failed) interval of every engine run."""
    starts, spans = {}, defaultdict(list)
    for event in events:
        stamp = datetime.fromisoformat(event["timestamp"]).timestamp()
        if event["event_type"] == "job_started":
            starts[event["run_id"]] = stamp
        elif event["event_type"] in ("job_finished", "job_failed") and event["run_id"] in starts:
            spans[event["tenant_id"]].append((starts[event["run_id"]], stamp))
    return spans


def overlaps(a: list[Span], b: list[Span]) -> int:
    """Pairs of overlapping intervals (a list against itself counts each interval once with itself)."""
    return sum(1 for s1, e1 in a for s2, e2 in b if s1 < e2 and s2 < e1)
