"""The source seam: a source lists its streams and yields bounded pyarrow record batches per stream.

A new source kind is one subclass plus one line in `sources/__init__.py`'s registry. Sources never see the
target: the incremental state they receive is what the target committed together with the last run's data.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

State = dict[str, Any]


@dataclass(frozen=True)
class Stream:
    """One output object of a source (one table / one asset)."""

    object: str
    cursor_field: str | None = None
    primary_key: tuple[str, ...] = ()
    lookback: Any = None  # cursor units re-read behind the last cursor (sources/window.py)
    upsert: bool = False  # the target merges rows by primary key (set by the runner from the target's mode)
    text_columns: tuple[str, ...] = ()  # contract decimals: parsers that would guess a float read them as text


@dataclass
class CursorTracker:
    """Follows the maximum of the cursor column over the batches actually read."""

    field: str | None
    value: Any = None
    seen: bool = dataclasses.field(default=False, init=False)

    def update(self, batch: pa.RecordBatch) -> None:
        if not self.field or self.field not in batch.schema.names or batch.num_rows == 0:
            return
        batch_max = pc.max(batch.column(self.field)).as_py()
        if batch_max is not None and (self.value is None or batch_max > self.value):
            self.value = batch_max
        self.seen = True


class Source(ABC):
    """Base of all sources. Subclasses set `types` and implement `streams` and `read`."""

    types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, base_dir: Path):
        self.config = config
        self.base_dir = base_dir

    @property
    def _windows(self) -> dict[str, Any]:
        """object -> sources.window.Window of the current read (kept even when a custom reader's __init__ does
        not call this one's)."""
        return self.__dict__.setdefault("_dativo_windows", {})

    def window(self, stream: Stream, state: State | None, legacy_inclusive: bool = False) -> Any:
        """The boundary/lookback window of a cursor read of `stream` (see sources/window.py)."""
        from .window import Window

        window = Window(str(stream.cursor_field), stream.lookback or 0, stream.primary_key, state,
                        upsert=stream.upsert, legacy_inclusive=legacy_inclusive)
        self._windows[stream.object] = window
        return window

    @abstractmethod
    def streams(self) -> list[Stream]:
        """The objects this source produces, in config order."""

    @abstractmethod
    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        """Yield record batches (bounded size) of rows newer than `state` (None: read everything).

        Raise engine errors (errors.py) or let driver exceptions through; the runner classifies them.
        """

    def already_landed(self, stream: Stream) -> int:
        """Rows this read re-read and dropped because they had landed before (boundary / lookback window)."""
        window = self._windows.get(stream.object)
        return window.dropped if window is not None else 0

    def narrowed(self, stream: Stream) -> Any:
        """The cursor value at or below which this read's window stopped remembering rows (its lookback window
        held more rows than the state keeps), else None."""
        window = self._windows.get(stream.object)
        return window.cut if window is not None and window.narrowed else None

    def next_state(self, stream: Stream, state: State | None, tracker: CursorTracker) -> State | None:
        """The state to commit with this run's data. Default: the cursor column's maximum seen so far."""
        if not stream.cursor_field:
            return None
        if tracker.value is None:
            return state  # nothing new: keep the previous state, so the target can skip the commit
        window = self._windows.get(stream.object)
        return window.next_state() if window is not None else {"cursor": encode_cursor(tracker.value)}

    def close(self) -> None:  # noqa: B027 - an optional hook: most sources hold nothing to release
        """Release connections. Called once after all streams."""


def encode_cursor(value: Any) -> Any:
    """A JSON-safe cursor; datetimes keep their type so comparisons stay typed."""
    import datetime as dt
    import decimal

    if isinstance(value, dt.datetime):
        return {"type": "timestamp", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    return value


def decode_cursor(value: Any) -> Any:
    import datetime as dt
    import decimal

    if isinstance(value, dict) and "type" in value:
        kind, raw = value["type"], value["value"]
        if kind == "timestamp":
            return dt.datetime.fromisoformat(raw)
        if kind == "date":
            return dt.date.fromisoformat(raw)
        if kind == "decimal":
            return decimal.Decimal(raw)
    return value


def cursor_of(state: State | None) -> Any:
    """The decoded cursor value of a committed state, or None."""
    return decode_cursor(state.get("cursor")) if state else None
