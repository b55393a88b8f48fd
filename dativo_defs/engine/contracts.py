"""Checks record batches against a job's data contract and casts them to the contract's types.

strict: the first violation fails the run (nothing is committed) with the offending columns and sample rows.
warn: data lands (values that cannot be cast become null) and violations are counted per column.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..config.contract import Column, ColumnType, Contract
from .errors import ConfigurationError, ContractViolationError

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.LONG: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.DOUBLE: pa.float64(),
    ColumnType.NUMBER: pa.float64(),
    ColumnType.DECIMAL: pa.decimal128(38, 9),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.DATETIME: pa.timestamp("us", tz="UTC"),
    ColumnType.BINARY: pa.binary(),
}
SAMPLE_ROWS = 5


def contract_schema(contract: Contract) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=not c.required) for c in contract.columns])


@dataclass
class ContractChecker:
    """Stateful over one stream: accumulates violation counts and samples across batches."""

    contract: Contract
    strict: bool
    violations: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.schema = contract_schema(self.contract)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Return `batch` cast to the contract schema, or raise ContractViolationError in strict mode."""
        before = sum(self.violations.values())
        columns = [self._column(batch, column) for column in self.contract.columns]
        extra = [name for name in batch.schema.names if name not in self.schema.names]
        for name in extra:
            self.violations[f"{name}: not in contract"] += batch.num_rows
        if self.strict and sum(self.violations.values()) > before:
            raise ContractViolationError(
                f"contract violated: {dict(self.violations)}; sample rows: {self.samples[:SAMPLE_ROWS]}",
                hint="fix the data or the contract, or set schema_validation_mode: warn",
            )
        fields = list(self.schema) + [batch.schema.field(n) for n in extra]
        arrays = columns + [batch.column(n) for n in extra]
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([f.with_nullable(True) for f in fields]))

    def _column(self, batch: pa.RecordBatch, column: Column) -> pa.Array:
        target = ARROW_TYPES[column.type]
        if column.name not in batch.schema.names:
            self.violations[f"{column.name}: missing column"] += batch.num_rows
            return pa.nulls(batch.num_rows, target)
        values = batch.column(column.name)
        cast = self._cast(values, target, column.name, batch)
        if column.required and cast.null_count:
            self.violations[f"{column.name}: null in required column"] += cast.null_count
            self._sample(batch, pc.is_null(cast), column.name)
        return cast

    def _cast(self, values: pa.Array, target: pa.DataType, name: str, batch: pa.RecordBatch) -> pa.Array:
        if values.type == target:
            return values
        try:
            return pc.cast(values, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # Slow path, only on bad data: cast value by value to find the offenders.
        out, bad = [], []
        for value in values:
            try:
                out.append(pc.cast(pa.array([value.as_py()], type=values.type), target)[0].as_py())
                bad.append(False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(None)
                bad.append(value.is_valid)
        self.violations[f"{name}: not a valid {target}"] += sum(bad)
        self._sample(batch, pa.array(bad), name)
        return pa.array(out, type=target)

    def _sample(self, batch: pa.RecordBatch, mask: pa.Array, column: str) -> None:
        if len(self.samples) >= SAMPLE_ROWS:
            return
        rows = batch.filter(mask).slice(0, SAMPLE_ROWS - len(self.samples)).to_pylist()
        self.samples.extend({"column": column, "row": {k: str(v) for k, v in row.items()}} for row in rows)


def normalize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Make types Iceberg and Parquet accept: ns timestamps -> us, large strings -> strings, null -> string."""
    fields, arrays, changed = [], [], False
    for f, array in zip(batch.schema, batch.columns, strict=True):
        target = _normal_type(f.type)
        if target != f.type:
            try:  # safe: a nanosecond timestamp with sub-microsecond digits is refused, never truncated
                array, changed = pc.cast(array, target), True
            except pa.ArrowInvalid:
                raise ConfigurationError(
                    f"column {f.name!r} is {f.type} with values Iceberg cannot hold exactly (as {target})",
                    hint="truncate it at the source, or declare the column in the contract (contracts cast "
                         "deliberately)") from None
        fields.append(pa.field(f.name, target, nullable=True))
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)) if changed or any(
        not f.nullable for f in batch.schema) else batch


def _normal_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_large_string(t) or pa.types.is_null(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return pa.string() if pa.types.is_time(t) else pa.int64()
    return t
