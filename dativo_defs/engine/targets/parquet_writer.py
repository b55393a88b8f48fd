"""Parquet files with row groups sized like Iceberg's writers size them, not one per incoming batch.

Sources yield bounded batches (often 100k rows); written one by one, each becomes a row group with its own
dictionaries and statistics, and files grow to about twice what pyiceberg's own writer produces for the same
rows. `RowGroupWriter` buffers batches up to Iceberg's defaults — `write.parquet.row-group-size-bytes` (128 MB
of Arrow data) or `write.parquet.row-group-limit` (1,048,576 rows), whichever comes first — and writes them as
one row group, so memory stays bounded by one row group whatever the run's size.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_BYTES = 128 * 1024 * 1024  # Iceberg's write.parquet.row-group-size-bytes default
ROW_GROUP_ROWS = 1_048_576  # Iceberg's write.parquet.row-group-limit default


class RowGroupWriter:
    """A ParquetWriter that writes whole row groups of buffered batches (all of one schema)."""

    def __init__(self, where: Any, schema: pa.Schema, compression: str, filesystem: Any = None,
                 row_group_bytes: int = ROW_GROUP_BYTES, row_group_rows: int = ROW_GROUP_ROWS):
        self.writer = pq.ParquetWriter(where, schema, compression=compression, filesystem=filesystem)
        self.schema = schema
        self.row_group_bytes = row_group_bytes
        self.row_group_rows = row_group_rows
        self.buffer: list[pa.RecordBatch] = []
        self.buffered_bytes = 0
        self.buffered_rows = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self.buffer.append(batch)
        self.buffered_bytes += batch.nbytes
        self.buffered_rows += batch.num_rows
        self.rows += batch.num_rows
        if self.buffered_bytes >= self.row_group_bytes or self.buffered_rows >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            table = pa.Table.from_batches(self.buffer, schema=self.schema)
            self.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.buffer, self.buffered_bytes, self.buffered_rows = [], 0, 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.writer.close()
