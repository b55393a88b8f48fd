"""Driver column types -> types Iceberg and Parquet hold exactly (docs/TYPES.md is the matrix).

Applied to every batch a SQL source reads, before contracts. A column no rule can land exactly fails the read
with a ConfigurationError naming the column and the cast that fixes it; nothing is rounded or truncated here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigurationError

# PostgreSQL `numeric` without precision: decimal(38, 9); a value needing more digits fails (never rounded).
UNCONSTRAINED_NUMERIC = pa.decimal128(38, 9)
ICEBERG_MAX_PRECISION = 38
# connectorx (MySQL/MariaDB) reads DECIMAL as decimal(38, 10) through a 28-digit Rust decimal
MYSQL_DECIMAL_SCALE = 10
MYSQL_DECIMAL_INTEGER_DIGITS = 18

Convert = Callable[[pa.Array], pa.Array]


def plan(schema: pa.Schema, what: str) -> dict[str, tuple[pa.DataType, Convert]]:
    """Per column needing a conversion: (output type, converter). Raises for a column that cannot land exactly."""
    out: dict[str, tuple[pa.DataType, Convert]] = {}
    for f in schema:
        rule = _rule(f, what)
        if rule is not None:
            out[f.name] = rule
    return out


def apply(batch: pa.RecordBatch, conversions: dict[str, tuple[pa.DataType, Convert]]) -> pa.RecordBatch:
    if not conversions:
        return batch
    arrays, fields = [], []
    for f, array in zip(batch.schema, batch.columns, strict=True):
        if f.name in conversions:
            out_type, convert = conversions[f.name]
            array, f = convert(array), pa.field(f.name, out_type, nullable=True, metadata=f.metadata)
        arrays.append(array)
        fields.append(f)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _pg_type(f: pa.Field) -> str:
    return ((f.metadata or {}).get(b"POSTGRESQL:type") or b"").decode()


def _rule(f: pa.Field, what: str) -> tuple[pa.DataType, Convert] | None:
    t, name = f.type, f.name
    if isinstance(t, pa.BaseExtensionType):
        extension = t.extension_name
        if extension == "arrow.opaque" and getattr(t, "type_name", "") == "numeric":
            return _numeric(f, what)
        if extension == "arrow.uuid":
            return pa.string(), _uuid_text
        if extension == "arrow.json":
            return pa.string(), lambda a: a.storage.cast(pa.string())
        kind = getattr(t, "type_name", extension)
        raise cannot_land(what, name, f"PostgreSQL type {kind}", f"{name}::text")
    if _pg_type(f) == "money":
        raise cannot_land(what, name, "PostgreSQL money (an integer in the locale's minor unit)", f"{name}::numeric")
    if t == pa.month_day_nano_interval():
        return pa.string(), _interval_text
    if pa.types.is_unsigned_integer(t):
        if t.bit_width == 64:  # no unsigned 64-bit type in Iceberg: decimal(20, 0) holds every value
            return pa.decimal128(20, 0), lambda a: a.cast(pa.decimal128(20, 0))
        wider = pa.int32() if t.bit_width < 32 else pa.int64()
        return wider, lambda a, w=wider: a.cast(w)
    if pa.types.is_decimal(t) and t.precision > ICEBERG_MAX_PRECISION:
        raise cannot_land(what, name, f"decimal({t.precision}, {t.scale}) (Iceberg holds at most 38 digits)",
                      f"CAST({name} AS decimal(38, s))")
    return None


def _numeric(f: pa.Field, what: str) -> tuple[pa.DataType, Convert]:
    typmod = int((f.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    if typmod < 4:
        out = UNCONSTRAINED_NUMERIC
    else:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if precision > ICEBERG_MAX_PRECISION:
            raise cannot_land(what, f.name, f"numeric({precision}, {scale}) (Iceberg holds at most 38 digits)",
                          f"CAST({f.name} AS numeric(38, {min(scale, 38)}))")
        out = pa.decimal128(precision, scale)

    def convert(array: pa.Array) -> pa.Array:
        text = array.storage
        try:
            return pc.cast(text, out)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = _first_bad(text, out)
            raise cannot_land(what, f.name, f"numeric value {bad!r} (landing as {out})",
                          f"CAST({f.name} AS numeric(p, s)) with the precision and scale the data needs (at most 38 "
                          "digits; NaN and infinities have no decimal form: map them in a query)") from None

    return out, convert


def _first_bad(text: pa.Array, out: pa.DataType) -> str:
    for value in text.to_pylist():
        if value is None:
            continue
        try:
            pc.cast(pa.array([value]), out)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return value
    return "?"


def _uuid_text(array: pa.Array) -> pa.Array:
    return pa.array([None if b is None else str(uuid.UUID(bytes=b)) for b in array.storage.to_pylist()], pa.string())


def _interval_text(array: pa.Array) -> pa.Array:
    """ISO 8601 durations keeping months, days and time apart (a month is not a fixed number of days)."""
    def text(v: pa.MonthDayNano | None) -> str | None:
        if v is None:
            return None
        months, days, nanos = v.months, v.days, v.nanoseconds
        seconds, rest = divmod(abs(nanos), 1_000_000_000)
        clock = f"{'-' if nanos < 0 else ''}{seconds}" + (f".{rest:09d}".rstrip("0") if rest else "")
        return f"P{months}M{days}DT{clock}S"

    return pa.array([text(v) for v in array.to_pylist()], pa.string())


def cannot_land(what: str, column: str, kind: str, cast: str) -> ConfigurationError:
    return ConfigurationError(f"{what}: column {column!r} is {kind}, which dativo cannot land exactly",
                              hint=f"select it converted in a `query`, e.g. {cast} AS {column}")
