"""Parquet files with row groups sized like Iceberg's writers size them, encoded on a second core.

Sources yield bounded batches (often 100k rows); written one by one, each becomes a row group with its own
dictionaries and statistics, and files grow to about twice what pyiceberg's own writer produces for the same
rows. `RowGroupWriter` buffers batches up to a row-group budget in rows and Arrow bytes, whichever comes first,
and writes them as one row group.

Encoding (dictionaries, compression) runs in a background thread while the next group fills: pyarrow's
Parquet writer releases the GIL, so a run uses a second core for it. At most two groups are in memory at once
(one encoding, one filling), so the default budget is half of Iceberg's `write.parquet.row-group-size-bytes`
(128 MB) and `write.parquet.row-group-limit` (1,048,576 rows): memory stays bounded by one Iceberg row group
whatever the run's size, and files stay the size pyiceberg's own writer makes (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_BYTES = 128 * 1024 * 1024  # Iceberg's write.parquet.row-group-size-bytes default
ROW_GROUP_ROWS = 1_048_576  # Iceberg's write.parquet.row-group-limit default
GROUPS_IN_MEMORY = 2  # one encoding in the background, one filling
GROUP_BYTES = ROW_GROUP_BYTES // GROUPS_IN_MEMORY  # the default budget of one group
GROUP_ROWS = ROW_GROUP_ROWS // GROUPS_IN_MEMORY


class RowGroupWriter:
    """A ParquetWriter that writes whole row groups of buffered batches (all of one schema), each encoded in a
    background thread while the next one fills. Errors of the encoding surface at the next `write` or `close`."""

    def __init__(self, where: Any, schema: pa.Schema, compression: str, filesystem: Any = None,
                 row_group_bytes: int = GROUP_BYTES, row_group_rows: int = GROUP_ROWS):
        self.writer = pq.ParquetWriter(where, schema, compression=compression, filesystem=filesystem)
        self.sink = where if hasattr(where, "tell") else None
        self.schema = schema
        self.row_group_bytes = row_group_bytes
        self.row_group_rows = row_group_rows
        self.buffer: list[pa.RecordBatch] = []
        self.buffered_bytes = 0
        self.buffered_rows = 0
        self.rows = 0
        self.written_bytes = 0  # position of `where` (a stream) after the last encoded group
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dativo-encode")
        self._pending: Future | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        self.buffer.append(batch)
        self.buffered_bytes += batch.nbytes
        self.buffered_rows += batch.num_rows
        self.rows += batch.num_rows
        if self.buffered_bytes >= self.row_group_bytes or self.buffered_rows >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered batches to the encoder (after the previous group is written)."""
        self._wait()
        if self.buffer:
            table = pa.Table.from_batches(self.buffer, schema=self.schema)
            self._pending = self._encoder.submit(self._encode, table)
        self.buffer, self.buffered_bytes, self.buffered_rows = [], 0, 0

    def _encode(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        if self.sink is not None:
            self.written_bytes = self.sink.tell()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Write what is buffered and close the file. Always waits for the encoder: nothing is written to the
        file after `close` returns or raises (a failed run deletes its files right after)."""
        try:
            self.flush()
            self._wait()
        finally:
            if self._pending is not None:  # flush failed on an earlier group's error: let this one finish
                self._pending.exception()
            self._encoder.shutdown(wait=True)
            self.writer.close()
