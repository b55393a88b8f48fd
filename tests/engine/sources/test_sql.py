"""Contract suite of the SQL source, run against real SQLite, PostgreSQL and MariaDB.

Every backend test gets its own database (dropped afterwards) and must pass the same assertions: rows read back
equal rows inserted, batches stay bounded, incremental reads and lookback select the right rows, identifiers
cannot inject SQL, and errors name what is missing without leaking the password.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dativo_defs.config.sources import SqlSource as SqlSourceConfig
from dativo_defs.engine.errors import (AuthenticationError, ConfigurationError, ErrorKind, PermanentError,
                                       SourceNotFoundError, classify)
from dativo_defs.engine.sources.base import CursorTracker, encode_cursor
from dativo_defs.engine.sources.sql import SqlSource, behind, quote_identifier
from tests.conftest import need_server

BASE = datetime(2024, 1, 1)
COLUMNS = ("id", "name", "amount", "ts", "note")
TABLE = "orders"


def make_rows(first: int, last: int) -> list[tuple[Any, ...]]:
    """Mixed types: int, text (quotes, non-ASCII), float, timestamp, a nullable text column."""
    return [(i, f"name {i} 'é\" ünï", i * 1.5, BASE + timedelta(seconds=i, microseconds=i % 7),
             None if i % 3 == 0 else f"note {i}") for i in range(first, last + 1)]


class Backend:
    kind: str
    base_dir: Path

    def connection(self) -> dict[str, Any]:
        raise NotImplementedError

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def count(self, table: str) -> int:
        raise NotImplementedError

    def value(self, ts: datetime) -> Any:
        """How this backend reads a timestamp back (SQLite keeps ISO text)."""
        return ts

    def expected(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [(*row[:3], self.value(row[3]), row[4]) for row in rows]

    def source(self, tables: list[dict[str, Any]] | None = None, **extra: Any) -> SqlSource:
        config = SqlSourceConfig.model_validate({"type": self.kind, "connection": self.connection(),
                                                 "tables": tables or [{"name": TABLE}], "batch_rows": 1000, **extra})
        return SqlSource(config, self.base_dir)


class SqliteBackend(Backend):
    kind = "sqlite"

    def __init__(self, tmp_path: Path):
        self.base_dir = tmp_path
        self.db = sqlite3.connect(tmp_path / "shop.db")

    def connection(self) -> dict[str, Any]:
        return {"database": "shop.db"}  # relative to the job file's folder

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        self.db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" '
                        "(id INTEGER PRIMARY KEY, name TEXT, amount REAL, ts TEXT, note TEXT)")
        self.db.executemany(f'INSERT INTO "{table}" VALUES (?, ?, ?, ?, ?)', self.expected(rows))
        self.db.commit()

    def count(self, table: str) -> int:
        return self.db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]

    def value(self, ts: datetime) -> Any:
        return ts.isoformat(sep=" ")


class PostgresBackend(Backend):
    kind = "postgres"
    server = "127.0.0.1:5432"

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest):
        import adbc_driver_postgresql.dbapi as adbc_pg

        self.base_dir, self.database = tmp_path, f"dativo_t_{uuid.uuid4().hex[:8]}"
        try:
            admin = adbc_pg.connect(f"postgresql://postgres@{self.server}/postgres", autocommit=True)
        except Exception as exc:  # noqa: BLE001 - any failure means: no usable server
            need_server(f"PostgreSQL on {self.server}: {str(exc).splitlines()[0]}")
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.database}"')
        self.db = adbc_pg.connect(f"postgresql://postgres@{self.server}/{self.database}", autocommit=True)

        def drop() -> None:
            self.db.close()
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE "{self.database}" WITH (FORCE)')
            admin.close()

        request.addfinalizer(drop)

    def connection(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "user": "postgres", "database": self.database}

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        data = pa.Table.from_pylist([dict(zip(COLUMNS, row)) for row in rows], schema=pa.schema(
            [("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64()), ("ts", pa.timestamp("us")),
             ("note", pa.string())]))
        with self.db.cursor() as cur:
            cur.execute(f'CREATE TABLE IF NOT EXISTS "{table}" '
                        "(id bigint PRIMARY KEY, name text, amount double precision, ts timestamp, note text)")
            cur.adbc_ingest(table, data, mode="append")

    def count(self, table: str) -> int:
        with self.db.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{table}"')
            return cur.fetchone()[0]


class MariaBackend(Backend):
    kind = "mariadb"
    server = ("127.0.0.1", 3306)

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest):
        import pymysql

        self.base_dir, self.database = tmp_path, f"dativo_t_{uuid.uuid4().hex[:8]}"
        try:
            self.db = pymysql.connect(host=self.server[0], port=self.server[1], user="root", password="",
                                      charset="utf8mb4", autocommit=True, connect_timeout=5)
        except Exception as exc:  # noqa: BLE001
            need_server(f"MariaDB on {self.server[0]}:{self.server[1]}: {exc}")
        with self.db.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        self.db.select_db(self.database)

        def drop() -> None:
            with self.db.cursor() as cur:
                cur.execute(f"DROP DATABASE `{self.database}`")
            self.db.close()

        request.addfinalizer(drop)

    def connection(self) -> dict[str, Any]:
        return {"host": self.server[0], "user": "root", "database": self.database}

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        with self.db.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS `{table}` (id bigint PRIMARY KEY, name varchar(100), "
                        "amount double, ts datetime(6), note text NULL)")
            cur.executemany(f"INSERT INTO `{table}` VALUES (%s, %s, %s, %s, %s)", rows)

    def count(self, table: str) -> int:
        with self.db.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM `{table}`")
            return cur.fetchone()[0]


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    return (PostgresBackend if request.param == "postgres" else MariaBackend)(tmp_path, request)


def read_all(source: SqlSource, state: dict[str, Any] | None = None, index: int = 0) -> list[pa.RecordBatch]:
    try:
        return list(source.read(source.streams()[index], state))
    finally:
        source.close()


def rows_of(batches: list[pa.RecordBatch]) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in pa.Table.from_batches(batches).to_pylist()] if batches else []


# --- contract suite -------------------------------------------------------------------------------------------


def test_reads_every_row_in_bounded_batches(backend: Backend) -> None:
    rows = make_rows(1, 25_000)
    backend.insert(TABLE, rows)
    batches = read_all(backend.source())
    assert max(b.num_rows for b in batches) <= 1000
    assert batches[0].schema.names == list(COLUMNS)
    assert sorted(rows_of(batches)) == backend.expected(rows)


def test_incremental_reads_only_rows_past_the_cursor_in_order(backend: Backend) -> None:
    backend.insert(TABLE, make_rows(1, 25_000))
    source = backend.source(incremental={"cursor_field": "id"})
    assert source.streams()[0].cursor_field == "id"
    ids = [r[0] for r in rows_of(read_all(source, {"cursor": 24_000}))]
    assert ids == list(range(24_001, 25_001))  # ordered by the cursor


def test_timestamp_cursor_round_trips_through_committed_state(backend: Backend) -> None:
    """What one run commits (tracker max -> encode_cursor) selects exactly the next run's new rows."""
    backend.insert(TABLE, make_rows(1, 300))
    source = backend.source(tables=[{"name": TABLE, "cursor_field": "ts", "primary_key": ["id"]}])
    stream = source.streams()[0]
    assert stream.primary_key == ("id",)
    tracker = CursorTracker(stream.cursor_field)
    for batch in read_all(source):
        tracker.update(batch)
    state = source.next_state(stream, None, tracker)
    assert state["cursor"] == encode_cursor(backend.value(make_rows(300, 300)[0][3]))
    same = [{"name": TABLE, "cursor_field": "ts", "primary_key": ["id"]}]  # the boundary row is keyed by id + ts
    assert read_all(backend.source(tables=same), state) == []
    backend.insert(TABLE, make_rows(301, 320))
    new = rows_of(read_all(backend.source(tables=same), state))
    assert new == backend.expected(make_rows(301, 320))


def test_lookback_rereads_recent_rows(backend: Backend) -> None:
    backend.insert(TABLE, make_rows(1, 2_000))
    source = backend.source(incremental={"cursor_field": "ts", "lookback_seconds": 100})
    last = encode_cursor(backend.value(BASE + timedelta(seconds=1_900)))
    state = {"cursor": last, "window": {"from": encode_cursor(backend.value(BASE + timedelta(seconds=1_800))),
                                        "keys": ""}}
    ids = [r[0] for r in rows_of(read_all(source, state))]
    assert ids == list(range(1_800, 2_001))  # ts(1800) has microseconds > 0, so it is past ts(1900) - 100 s


def test_query_source_is_wrapped_and_filtered(backend: Backend) -> None:
    backend.insert(TABLE, make_rows(1, 5_000))
    query = f"SELECT id, name FROM {quote_identifier(TABLE, '`' if backend.kind == 'mariadb' else chr(34))} " \
            "WHERE id <= 4500;"
    source = backend.source(tables=[{"query": query, "object": "recent", "cursor_field": "id"}])
    assert source.streams()[0].object == "recent"
    batches = read_all(source, {"cursor": 4_000})
    assert batches[0].schema.names == ["id", "name"]
    assert [r[0] for r in rows_of(batches)] == list(range(4_001, 4_501))


@pytest.mark.parametrize("attack", ['"; DROP TABLE orders; --', '`; DROP TABLE orders; --', '" WHERE 1=1 --'])
def test_identifier_injection_executes_nothing(backend: Backend, attack: str) -> None:
    backend.insert(TABLE, make_rows(1, 50))
    with pytest.raises(SourceNotFoundError, match="not found"):
        read_all(backend.source(tables=[{"name": TABLE + attack, "object": "x"}]))
    with pytest.raises(ConfigurationError):  # unknown column (SQLite: not among the result's columns)
        read_all(backend.source(tables=[{"name": TABLE, "cursor_field": "id" + attack}]), {"cursor": 1})
    assert backend.count(TABLE) == 50


def test_cursor_value_cannot_inject_sql(backend: Backend) -> None:
    """A hostile committed cursor is bound (SQLite) or escaped by the server's rules (PostgreSQL, MariaDB)."""
    backend.insert(TABLE, make_rows(1, 50))
    hostile = "a'; DROP TABLE orders; -- $dativo$ $$ \\' \" `"
    source = backend.source(tables=[{"name": TABLE, "cursor_field": "name"}])
    assert len(rows_of(read_all(source, {"cursor": hostile}))) == 50  # every "name ..." sorts after "a..."
    assert backend.count(TABLE) == 50


def test_control_characters_in_identifiers_are_rejected(backend: Backend) -> None:
    with pytest.raises(ConfigurationError, match="control characters"):
        read_all(backend.source(tables=[{"name": "orders\x00; DROP TABLE orders", "object": "x"}]))


def test_missing_table_names_table_and_database(backend: Backend) -> None:
    backend.insert(TABLE, make_rows(1, 5))
    with pytest.raises(SourceNotFoundError) as caught:
        read_all(backend.source(tables=[{"name": "no_such_table"}]))
    assert "no_such_table" in str(caught.value)
    with pytest.raises(SourceNotFoundError) as typo:
        read_all(backend.source(tables=[{"name": "ordrs"}]))
    assert typo.value.hint == "nearest existing table(s): orders"
    assert str(getattr(backend, "database", "shop.db")) in str(caught.value)
    assert classify(caught.value) is ErrorKind.PERMANENT


# --- backend-specific -----------------------------------------------------------------------------------------


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    config = SqlSourceConfig.model_validate({"type": "sqlite", "connection": {"database": "data/missing.db"},
                                             "tables": [{"name": TABLE}]})
    with pytest.raises(SourceNotFoundError, match="missing.db"):
        read_all(SqlSource(config, tmp_path))
    assert not (tmp_path / "data" / "missing.db").exists()


def test_sqlite_leading_nulls_longer_than_a_batch(tmp_path: Path) -> None:
    """ADBC SQLite infers types from its first batch; the source lets it see more rows than one output batch."""
    backend = SqliteBackend(tmp_path)
    for table, nulls in (("sparse", 1_500), ("very_sparse", 70_000)):
        backend.db.execute(f"CREATE TABLE {table} (id INTEGER, late TEXT)")
        backend.db.executemany(f"INSERT INTO {table} VALUES (?, ?)",
                               [(i, None if i < nulls else "x") for i in range(nulls + 10)])
    backend.db.commit()
    batches = read_all(backend.source(tables=[{"name": "sparse"}]))
    assert pa.Table.from_batches(batches).column("late").null_count == 1_500
    with pytest.raises(ConfigurationError, match="change type"):  # beyond the window: a clear error
        read_all(backend.source(tables=[{"name": "very_sparse"}]))


@pytest.mark.parametrize("server", [PostgresBackend, MariaBackend])
def test_missing_database_is_permanent(server: type[PostgresBackend | MariaBackend], tmp_path: Path,
                                       request: pytest.FixtureRequest) -> None:
    backend = server(tmp_path, request)
    connection = {**backend.connection(), "database": backend.database + "_nope"}
    config = SqlSourceConfig.model_validate({"type": backend.kind, "connection": connection,
                                             "tables": [{"name": TABLE}]})
    with pytest.raises(PermanentError, match="_nope") as caught:
        read_all(SqlSource(config, tmp_path))
    assert isinstance(caught.value, SourceNotFoundError)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
@pytest.mark.parametrize("via", ["connection", "dsn"])
def test_password_never_appears_in_connection_errors(kind: str, via: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    canary = f"Canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("DATIVO_T_PASSWORD", canary)
    monkeypatch.setenv("DATIVO_T_DSN", f"{kind}://dativo:{canary}@127.0.0.1:1/shop")
    settings = ({"connection": {"port": 1, "user": "dativo", "database": "shop",
                                "password": {"env": "DATIVO_T_PASSWORD"}}}
                if via == "connection" else {"dsn": {"env": "DATIVO_T_DSN"}})
    config = SqlSourceConfig.model_validate({"type": kind, **settings, "tables": [{"name": TABLE}]})
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the kind is asserted below
        read_all(SqlSource(config, tmp_path))
    assert classify(caught.value) is ErrorKind.TRANSIENT
    assert "refused" in str(caught.value).lower()
    assert canary not in str(caught.value) and canary not in repr(caught.value)


def test_mariadb_login_with_special_password_and_wrong_password(tmp_path: Path,
                                                                request: pytest.FixtureRequest) -> None:
    backend = MariaBackend(tmp_path, request)
    backend.insert(TABLE, make_rows(1, 10))
    user, password = f"dativo_u_{uuid.uuid4().hex[:8]}", "p@ss:w/rd%#?'\\"
    with backend.db.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT SELECT ON `{backend.database}`.* TO %s@'%%'", (user,))
    request.addfinalizer(lambda: backend.db.cursor().execute("DROP USER %s@'%%'", (user,)))

    def source(secret: str) -> SqlSource:
        connection = {**backend.connection(), "user": user, "password": secret}
        config = SqlSourceConfig.model_validate({"type": "mariadb", "connection": connection,
                                                 "tables": [{"name": TABLE}]})
        return SqlSource(config, tmp_path)

    assert len(rows_of(read_all(source(password)))) == 10
    with pytest.raises(AuthenticationError):
        read_all(source("wrong-password"))


# --- pure helpers ---------------------------------------------------------------------------------------------


def test_quote_identifier() -> None:
    assert quote_identifier('a"b', '"') == '"a""b"'
    assert quote_identifier("s.t`x", "`", qualified=True) == "`s`.`t``x`"
    with pytest.raises(ConfigurationError):
        quote_identifier("a\nb", '"')
    with pytest.raises(ConfigurationError):
        quote_identifier("s..t", '"', qualified=True)


def test_lookback_keeps_iso_text_style() -> None:
    assert behind("2024-01-01T00:01:00Z", 90) == "2023-12-31T23:59:30Z"
    assert behind("2024-01-01 00:01:00.123456", 60) == "2024-01-01 00:00:00.123456"
    assert behind("2024-01-01 00:01:00.500", 60) == "2024-01-01 00:00:00.500"
    assert behind("2024-01-02", 3600) == "2024-01-01"
    assert behind(datetime(2024, 1, 1, 0, 1), 60) == datetime(2024, 1, 1)
    assert behind(42, 10) == 32  # numbers move by units (late-committed ids)
    assert behind(Decimal("4.5"), 1) == Decimal("3.5")
    assert behind("not a time", 60) == "not a time"
