"""The read-ahead thread and the row-group writer: order kept, errors delivered, memory bounded, sources
closed when the consumer stops, row groups sized by Iceberg's rules rather than by batch."""

from __future__ import annotations

import contextlib
import io
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dativo_defs.engine.pipeline import read_ahead
from dativo_defs.engine.targets.parquet_writer import RowGroupWriter


def test_items_arrive_in_order_and_the_reader_stays_at_most_depth_ahead():
    produced: list[int] = []
    consumed: list[int] = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    for item in read_ahead(source(), depth=2):
        consumed.append(item)
        assert len(produced) - len(consumed) <= 3  # two in the queue, one being put
    assert consumed == list(range(50))


def test_a_read_error_reaches_the_consumer_after_the_good_items():
    def source():
        yield 1
        yield 2
        raise ConnectionResetError("dropped")

    got = []
    with pytest.raises(ConnectionResetError, match="dropped"):
        for item in read_ahead(source()):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_closes_the_source_in_its_thread():
    closed = threading.Event()

    def source():
        try:
            for i in range(1_000_000):
                yield i
        finally:
            closed.set()

    iterator = read_ahead(source())
    assert next(iterator) == 0
    iterator.close()  # a failed write stops consuming
    assert closed.wait(5)
    assert not [t for t in threading.enumerate() if t.name == "dativo-read-ahead"]


def test_row_groups_are_sized_by_rows_and_bytes_not_by_batch(tmp_path):
    schema = pa.schema([("id", pa.int64())])
    path = tmp_path / "x.parquet"
    writer = RowGroupWriter(str(path), schema, "zstd", row_group_rows=250_000)
    for start in range(0, 600_000, 100_000):
        writer.write(pa.record_batch([pa.array(range(start, start + 100_000), pa.int64())], schema=schema))
    writer.close()
    metadata = pq.read_metadata(path)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [300_000, 300_000]
    assert pq.read_table(path).column("id").to_pylist() == list(range(600_000))


class _FailingSink(io.RawIOBase):
    """A file that accepts the Parquet header, then fails every write (a full disk, a dropped S3 upload)."""

    def __init__(self) -> None:
        self.accepted = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.accepted >= 4:
            raise OSError("disk full")
        self.accepted += len(data)
        return len(data)


def test_an_error_of_the_background_encoding_reaches_the_caller(tmp_path):
    schema = pa.schema([("id", pa.int64())])
    writer = RowGroupWriter(_FailingSink(), schema, "zstd", row_group_rows=100_000)
    with pytest.raises(OSError, match="disk full"):
        for start in range(0, 1_000_000, 100_000):  # the first group fails in the encoder thread
            writer.write(pa.record_batch([pa.array(range(start, start + 100_000), pa.int64())], schema=schema))
        writer.close()
    with contextlib.suppress(Exception):
        writer.close()  # the caller's cleanup (a failed run): waits for the encoder, then closes the file
    assert not [t for t in threading.enumerate() if t.name.startswith("dativo-encode")]


def test_groups_encoded_in_the_background_keep_order_and_every_row(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("text", pa.string())])
    path = tmp_path / "x.parquet"
    writer = RowGroupWriter(str(path), schema, "zstd", row_group_rows=100_000)
    for start in range(0, 1_050_000, 50_000):
        ids = pa.array(range(start, start + 50_000), pa.int64())
        writer.write(pa.record_batch([ids, pa.array([f"t{i}" for i in range(start, start + 50_000)])], schema=schema))
    writer.close()
    metadata = pq.read_metadata(path)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [100_000] * 10 + [50_000]
    table = pq.read_table(path)
    assert table.column("id").to_pylist() == list(range(1_050_000))
    assert table.column("text")[1_049_999].as_py() == "t1049999"
