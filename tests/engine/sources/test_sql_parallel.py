"""Parallel block-range reads of PostgreSQL (sql_ranges): every row exactly once, all ranges in one snapshot,
small or indexed reads left on one connection, and the ranges themselves covering every block exactly once.

Real server (127.0.0.1:5432). The row threshold is lowered so that a table of tens of thousands of rows is
"large"; everything else (planner, snapshot export/import, TID range scans) is the server's own.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from dativo_defs.config.sources import SqlSource as SqlSourceConfig
from dativo_defs.engine.pipeline import interleave
from dativo_defs.engine.sources import sql_ranges
from dativo_defs.engine.sources.sql import SqlSource
from tests.conftest import postgres_database, summary

ROWS = 40_000
HYPOTHESIS_SEED = int(os.environ.get("DATIVO_HYPOTHESIS_SEED", random.randrange(2**32)))


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database with table t (id bigint primary key, updated bigint, note text) of ROWS rows, some deleted and
    some updated (so rows sit out of key order across blocks), analysed; the threshold lowered to 1,000 rows."""

    monkeypatch.setattr(sql_ranges, "PARALLEL_MIN_ROWS", 1_000)
    with postgres_database("dativo_par") as name:
        execute(name, "CREATE TABLE t (id bigint PRIMARY KEY, updated bigint NOT NULL, note text)",
                "CREATE INDEX t_updated ON t (updated)",
                f"INSERT INTO t SELECT i, i, repeat('x', (i % 50)::int) FROM generate_series(1, {ROWS}) i",
                "DELETE FROM t WHERE id % 97 = 0",  # holes
                "UPDATE t SET note = 'moved' WHERE id % 89 = 0",  # new versions at the end of the heap
                "VACUUM ANALYZE t")
        yield name


def execute(database: str, *statements: str) -> list[tuple]:
    """Run `statements` in autocommit on a connection of its own; the rows of the last one."""
    import psycopg2

    with closing(psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else []


def source(database: str, tmp_path: Path, **extra) -> SqlSource:
    config = SqlSourceConfig.model_validate({"type": "postgres", "tables": [{"name": "t"}], "batch_rows": 1_000,
                                             "connection": {"host": "127.0.0.1", "user": "postgres",
                                                            "database": database}, **extra})
    return SqlSource(config, tmp_path)


def server_ids(database: str, where: str = "true") -> list[int]:
    return [row[0] for row in execute(database, f"SELECT id FROM t WHERE {where} ORDER BY id")]


def read(src: SqlSource, state: dict | None = None) -> pa.Table:
    try:
        stream = src.streams()[0]
        return pa.Table.from_batches(list(src.read(stream, state)))
    finally:
        src.close()


def test_a_large_read_is_spread_over_connections_and_returns_every_row_exactly_once(
        database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=sql_ranges.__name__)
    data = read(source(database, tmp_path, read_connections=3))
    ids = sorted(data.column("id").to_pylist())
    assert ids == server_ids(database)  # no row missing, none twice
    assert len(ids) == ROWS - ROWS // 97
    moved = data.filter(pa.compute.equal(data.column("note"), "moved")).column("id").to_pylist()
    assert sorted(moved) == [i for i in range(89, ROWS + 1, 89) if i % 97]
    assert any("on 3 connections sharing snapshot" in r.getMessage() for r in caplog.records), caplog.text


def test_all_ranges_read_one_snapshot_whatever_commits_after_the_plan(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another session commits inserts, deletes and key-moving updates after the ranges' connections were
    opened and before they read: the result is the table as of the plan, exactly."""

    before = server_ids(database)
    planned = sql_ranges.plan

    def plan_then_write(*args, **kwargs):
        ranges = planned(*args, **kwargs)
        assert ranges is not None and len(ranges.connections) == 2
        execute(database, f"INSERT INTO t SELECT i, i, 'new' FROM generate_series({ROWS + 1}, {ROWS + 5000}) i",
                "DELETE FROM t WHERE id <= 3000",  # rows of the first range
                "UPDATE t SET id = id + 1000000, note = 'late' WHERE id BETWEEN 20000 AND 21000")
        return ranges

    monkeypatch.setattr(sql_ranges, "plan", plan_then_write)
    data = read(source(database, tmp_path, read_connections=2))
    assert sorted(data.column("id").to_pylist()) == before
    assert "late" not in data.column("note").to_pylist() and "new" not in data.column("note").to_pylist()
    assert server_ids(database) != before  # the writes did land


def test_an_incremental_read_keeps_its_lower_bound_in_every_range(database: str, tmp_path: Path) -> None:
    """A first-run-sized read past a cursor (the planner scans the table): every range applies the bound."""
    state = {"cursor": 5_000}
    data = read(source(database, tmp_path, read_connections=2, incremental={"cursor_field": "updated"}), state)
    assert sorted(data.column("id").to_pylist()) == server_ids(database, "updated > 5000")


def test_a_small_or_indexed_read_stays_on_one_connection(
        database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=sql_ranges.__name__)
    state = {"cursor": ROWS - 50}  # a few new rows: the planner takes the index on `updated`
    data = read(source(database, tmp_path, read_connections=2, incremental={"cursor_field": "updated"}), state)
    assert sorted(data.column("id").to_pylist()) == server_ids(database, f"updated > {ROWS - 50}")
    assert not any("sharing snapshot" in r.getMessage() for r in caplog.records)
    assert any("read on one connection" in r.getMessage() for r in caplog.records), caplog.text
    caplog.clear()
    read(source(database, tmp_path))  # the default: one connection
    assert not any("sharing snapshot" in r.getMessage() for r in caplog.records)


def test_a_lost_range_connection_fails_the_read_and_closes_every_connection(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server drops one range's connection after the plan: the read fails as a classified error, and no
    connection of the read is left open on the server."""

    planned = sql_ranges.plan

    def plan_then_kill(*args, **kwargs):
        ranges = planned(*args, **kwargs)
        execute(database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() ORDER BY backend_start DESC LIMIT 1")
        return ranges

    monkeypatch.setattr(sql_ranges, "plan", plan_then_kill)
    with pytest.raises(Exception) as failure:
        read(source(database, tmp_path, read_connections=2))
    assert type(failure.value).__module__ == "dativo_defs.engine.errors", repr(failure.value)
    assert execute(database, "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
                   "AND pid <> pg_backend_pid()") == []


@seed(HYPOTHESIS_SEED)
@settings(max_examples=300, deadline=None)
@given(blocks=st.integers(1, 100_000), parts=st.integers(1, 16))
def test_block_ranges_cover_every_block_once(blocks: int, parts: int) -> None:
    ranges = sql_ranges.block_ranges(blocks, parts)
    assert 1 <= len(ranges) <= parts
    assert ranges[0][0] is None and ranges[-1][1] is None  # open ends: blocks added later are read too
    starts = [0] + [start for start, _ in ranges[1:]]
    ends = [end for _, end in ranges[:-1]] + [blocks]
    assert all(s < e for s, e in zip(starts, ends, strict=True))  # none empty
    assert all(e == s for e, s in zip(ends[:-1], starts[1:], strict=True))  # contiguous, disjoint


def test_hypothesis_seed_is_printed() -> None:
    summary(f"sql_ranges hypothesis seed {HYPOTHESIS_SEED} (replay with DATIVO_HYPOTHESIS_SEED={HYPOTHESIS_SEED})")


def test_interleave_yields_every_item_of_every_source_and_stops_all_on_an_error() -> None:
    got = sorted(interleave([iter(range(0, 100)), iter(range(100, 250)), iter(())], depth=3))
    assert got == list(range(250))
    closed: list[str] = []

    def endless(name: str) -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.append(name)

    def failing() -> Iterator[int]:
        yield 1
        raise ConnectionResetError("range 2 lost its server")

    with pytest.raises(ConnectionResetError, match="range 2"):
        for _ in interleave([endless("a"), failing(), endless("b")]):
            pass
    assert sorted(closed) == ["a", "b"]


def test_a_refused_plan_falls_back_to_one_connection_and_a_missing_table_is_still_named(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A server (or pooler) that refuses the snapshot import: the read runs on one connection, complete."""
    from dativo_defs.engine.errors import SourceNotFoundError

    real = SqlSource._open_postgres
    opened: list[int] = []

    def second_connection_refuses_snapshots(self, autocommit: bool = True):
        conn = real(self, autocommit)
        opened.append(autocommit)
        if not autocommit and opened.count(False) == 2:  # the second range's connection, as a pooler would
            conn.close()
            raise RuntimeError("ERROR: invalid snapshot identifier")
        return conn

    monkeypatch.setattr(SqlSource, "_open_postgres", second_connection_refuses_snapshots)
    caplog.set_level(logging.WARNING)
    data = read(source(database, tmp_path, read_connections=2))
    assert sorted(data.column("id").to_pylist()) == server_ids(database)
    assert any("a parallel read was refused" in r.getMessage() for r in caplog.records), caplog.text
    monkeypatch.undo()
    config = {"type": "postgres", "tables": [{"name": "missing_table"}], "read_connections": 2,
              "connection": {"host": "127.0.0.1", "user": "postgres", "database": database}}
    with pytest.raises(SourceNotFoundError, match="missing_table"):
        read(SqlSource(SqlSourceConfig.model_validate(config), tmp_path))
