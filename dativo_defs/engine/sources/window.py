"""Boundary- and lookback-safe incremental reads: which re-read rows have landed already.

Shared by every cursor-incremental source (SQL, files with a cursor column, REST). After dlt's incremental
(`dlt/extract/incremental`: "unique hashes" of the rows at the last value), widened from the last value to a
lookback window:

- A read starts at the window's lower bound, inclusive: `cursor >= from` where `from = last - lookback`
  (lookback in cursor units: seconds for time cursors, units for numbers; 0 = just the boundary value).
- The state remembers a 64-bit key of every row landed with a cursor inside the window: the primary key plus
  the cursor value when there is a primary key (an updated row, with a new cursor value, is new), else the
  whole row (its non-null values). A re-read row at or below the last cursor whose key is remembered is
  dropped; everything else is new and lands, in append mode too.
- At most MAX_REMEMBERED_ROWS keys. When the window holds more rows, the remembered window narrows to the
  newest rows that fit (`after`: rows at or below that cursor are not re-read, so late rows there are not
  picked up) — unless the target upserts by primary key (merge), where re-reading is harmless: the window
  is kept and unremembered rows are simply written again.
- When the rows sharing the last cursor value alone exceed the bound, the next read starts after it.

State (JSON, beside the encoded `cursor`): `{"cursor": c, "window": {"from"|"after": c0, "keys": base64}}`.
A state with a cursor but no window (older runs, migrated state) is read as before windows: `> cursor` (REST:
`>= cursor`), without lookback.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import re
from array import array
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ...config.sources import MAX_REMEMBERED_ROWS
from ..errors import ConfigurationError
from .base import State, cursor_of, decode_cursor, encode_cursor


def behind(value: Any, lookback: float | int) -> Any:
    """`value` moved back by `lookback` cursor units (seconds for times and dates, units for numbers)."""
    if not lookback or value is None or isinstance(value, bool):
        return value
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=lookback)
    if isinstance(value, dt.date):
        return (dt.datetime.combine(value, dt.time()) - dt.timedelta(seconds=lookback)).date()
    if isinstance(value, decimal.Decimal):
        return value - decimal.Decimal(str(lookback))
    if isinstance(value, int) and float(lookback).is_integer():
        return value - int(lookback)
    if isinstance(value, (int, float)):
        return value - lookback
    return _shift_iso_text(value, dt.timedelta(seconds=lookback)) if isinstance(value, str) else value

def _shift_iso_text(text: str, delta: dt.timedelta) -> str:
    """Shift an ISO-8601 string, keeping its style (separator, precision, zone) so text comparison still holds."""
    try:
        shifted = dt.datetime.fromisoformat(text) - delta
    except ValueError:
        return text  # not a timestamp: leave it
    if len(text) == 10:
        return shifted.date().isoformat()
    clock = re.match(r"\d\d:\d\d(:\d\d)?(?:\.(\d+))?", text[11:])
    if clock is None:
        return text
    spec = ("minutes" if not clock.group(1) else "seconds" if not clock.group(2)
            else "milliseconds" if len(clock.group(2)) == 3 else "microseconds")
    out = shifted.isoformat(sep=text[10], timespec=spec)
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (decimal.Decimal, dt.timedelta)):
        return str(value)
    return repr(value)


def row_key(values: dict[str, Any]) -> int:
    """A stable 64-bit key of a row's non-null values (column order and absent columns do not matter)."""
    text = json.dumps(sorted((k, v) for k, v in values.items() if v is not None), default=_plain,
                      separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def pack(keys: set[int]) -> str:
    return base64.b64encode(array("Q", sorted(keys)).tobytes()).decode()


def unpack(text: str) -> set[int]:
    keys = array("Q")
    keys.frombytes(base64.b64decode(text))
    return set(keys)


@dataclass
class Window:
    """One stream's read: its lower bound, the filter dropping landed rows, and the state to commit."""

    cursor_field: str
    lookback: float | int
    primary_key: tuple[str, ...]
    state: State | None
    upsert: bool = False  # the target merges by primary key: re-landing a row is harmless
    limit: int = MAX_REMEMBERED_ROWS
    legacy_inclusive: bool = False  # how this source read a state without window (REST: `>=`, others: `>`)
    last: Any = field(init=False)
    maximum: Any = field(init=False, default=None)
    remembered: set[int] = field(init=False)
    groups: dict[Any, list[int]] = field(init=False, default_factory=dict)  # cursor value -> keys read
    cut: Any = field(init=False, default=None)  # rows at or below it are not remembered (overflow)
    dropped: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.last = cursor_of(self.state)
        window = (self.state or {}).get("window")
        self.remembered = unpack(window["keys"]) if window else set()
        if window and "after" in window:  # narrowed before: rows at or below are neither re-read nor remembered
            self.cut = decode_cursor(window["after"])
        elif not window and self.last is not None:  # a state from before windows: nothing is remembered up to it
            self.cut = self.last

    def lower_bound(self) -> tuple[Any, bool] | None:
        """(value, inclusive) the read starts at; None: read everything."""
        if self.last is None:
            return None
        window = (self.state or {}).get("window")
        if not window:
            return self.last, self.legacy_inclusive  # a state from before windows: read as it was then
        if "after" in window:
            return decode_cursor(window["after"]), False
        return decode_cursor(window["from"]), True

    def admits(self, value: Any) -> bool:
        """Whether a cursor value is at or past the lower bound (for sources filtering rows themselves)."""
        bound = self.lower_bound()
        if bound is None or value is None:
            return True  # a record without a cursor value cannot be placed: keep it (as before windows)
        try:
            return value >= bound[0] if bound[1] else value > bound[0]
        except TypeError:
            return True

    def admit(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`batch` without the rows already landed; remembers the keys of the rows inside the window."""
        if batch.num_rows == 0 or self.cursor_field not in batch.schema.names:
            return batch
        column = batch.column(self.cursor_field)
        top = pc.max(column).as_py()
        if top is None:
            return batch
        if self.maximum is None or top > self.maximum:
            self.maximum = top
        floor = behind(max(self.maximum, self.last) if self.last is not None else self.maximum, self.lookback)
        if self.cut is not None and self.cut >= floor:
            remember = pc.greater(column, _scalar(self.cut, column.type))
        else:
            remember = pc.greater_equal(column, _scalar(floor, column.type))
        check = (pc.less_equal(column, _scalar(self.last, column.type))
                 if self.remembered and self.last is not None else pa.array([False] * batch.num_rows))
        wanted = pc.fill_null(pc.or_(remember, check), False)
        indices = pc.indices_nonzero(wanted).to_pylist()
        if not indices:
            return batch
        columns = list(self.primary_key) + [self.cursor_field] if self.primary_key else batch.schema.names
        if missing := [c for c in columns if c not in batch.schema.names]:
            raise ConfigurationError(f"primary key column(s) {', '.join(map(repr, missing))} not in the data",
                                     hint=f"columns: {', '.join(batch.schema.names)}")
        taken = pa.array(indices)
        rows = batch.take(taken).select(columns).to_pylist()
        remember_flags = pc.fill_null(remember, False).take(taken).to_pylist()
        check_flags = pc.fill_null(check, False).take(taken).to_pylist()
        drop: list[int] = []
        for index, row, checked, remembered in zip(indices, rows, check_flags, remember_flags, strict=True):
            key = row_key(row)
            if checked and key in self.remembered:
                drop.append(index)
            if remembered:
                self.groups.setdefault(row[self.cursor_field], []).append(key)
        if sum(map(len, self.groups.values())) > 2 * self.limit:
            self._prune(floor)
        if not drop:
            return batch
        self.dropped += len(drop)
        keep = pc.invert(pc.is_in(pa.array(range(batch.num_rows)), value_set=pa.array(drop)))
        return batch.filter(keep)

    def _prune(self, floor: Any) -> None:
        """Keep the newest groups inside the window, at most `limit` keys; raise `cut` past what was dropped."""
        kept, total = {}, 0
        for value in sorted(self.groups, reverse=True):
            if value < floor:
                break
            total += len(self.groups[value])
            if total > self.limit:
                self.cut = value if self.cut is None else max(self.cut, value)
                break
            kept[value] = self.groups[value]
        self.groups = kept

    def next_state(self) -> State | None:
        """The state to commit: the new cursor, the window's lower bound and the keys landed inside it."""
        if self.maximum is None:
            return self.state
        top = max(self.maximum, self.last) if self.last is not None else self.maximum
        floor = behind(top, self.lookback)
        self._prune(floor)
        keys = {key for group in self.groups.values() for key in group}
        if self.cut is not None and self.cut >= floor and not self.upsert:
            window = {"after": encode_cursor(self.cut)}  # narrowed: nothing at or below `cut` is re-read
            keys = {key for value, group in self.groups.items() if value > self.cut for key in group}
        else:
            window = {"from": encode_cursor(floor)}
        return {"cursor": encode_cursor(top), "window": {**window, "keys": pack(keys)}}

    @property
    def narrowed(self) -> bool:
        return self.cut is not None and not self.upsert


def _scalar(value: Any, type_: pa.DataType) -> pa.Scalar:
    """The cursor value as a scalar comparable with the column (time zones and units follow the column)."""
    try:
        return pa.scalar(value, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.scalar(value)
