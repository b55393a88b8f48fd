"""Tables and queries of SQLite, PostgreSQL and MySQL/MariaDB, streamed as bounded Arrow record batches.

Arrow-native drivers only: ADBC for SQLite and PostgreSQL, connectorx (`arrow_stream`) for MySQL/MariaDB, so rows
never pass through Python objects and memory stays flat however large the table. Incremental reads select rows
past the committed cursor, ordered by it. Identifiers are always quoted; cursor values are bound parameters where
that keeps streaming, else literals escaped by the server's own rules.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pyarrow as pa

from ...config.paths import resolve_relative
from ...config.sources import IncrementalStrategy, SqlTable
from ...config.sources import SqlSource as SqlConfig
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    DativoError,
    ErrorKind,
    PermanentError,
    SourceNotFoundError,
    TransientError,
    classify,
)
from ..pipeline import interleave
from . import sql_ranges, sql_types
from .base import Source, State, Stream
from .window import behind  # noqa: F401 - the lookback rule, re-exported for tests


@dataclass(frozen=True)
class Dialect:
    quote: str  # identifier quote character (doubled when it occurs inside a name)
    port: int | None  # default server port
    scheme: str  # URL scheme the driver expects
    open: str  # SqlSource method that connects
    execute: str  # SqlSource method that runs a SELECT and returns (RecordBatchReader, release)
    literal: str | None  # SqlSource method writing the cursor as an escaped literal; None: a bound parameter
    options: tuple[tuple[str, str], ...] = ()  # ADBC statement options


# ADBC SQLite guesses column types from its first batch: let it look at enough rows (we re-slice anyway).
_SQLITE = Dialect('"', None, "sqlite", "_open_sqlite", "_execute_adbc", literal=None,
                  options=(("adbc.sqlite.query.batch_rows", "65536"),))
# ADBC PostgreSQL streams (COPY) only without parameters: with one it buffers the whole result in memory.
_POSTGRES = Dialect('"', 5432, "postgresql", "_open_postgres", "_execute_adbc", literal="_postgres_literal")
# connectorx takes no parameters.
_MYSQL = Dialect("`", 3306, "mysql", "_open_mysql", "_execute_connectorx", literal="_mysql_literal")
DIALECTS = {"sqlite": _SQLITE, "postgres": _POSTGRES, "postgresql": _POSTGRES, "mysql": _MYSQL, "mariadb": _MYSQL}

# Driver messages -> engine errors, checked in order (drivers raise one exception class for many causes).
_DRIVER_ERRORS: tuple[tuple[re.Pattern[str], type[DativoError], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), error, summary) for pattern, error, summary in (
        (r"authentication failed|access denied|role .+ does not exist|no password supplied",
         AuthenticationError, "login refused by {database}"),
        (r"database .+ does not exist|unknown database", SourceNotFoundError, "{database} does not exist"),
        (r"no such table|(relation|schema) .+ does not exist|table .+ doesn\\?'t exist",
         SourceNotFoundError, "{what} not found in {database}"),
        (r"no such column|column .+ does not exist|unknown column", ConfigurationError, "{what}: unknown column"),
        (r"couldn't convert the value", ConfigurationError,
         "{what}: the MySQL/MariaDB driver (connectorx) cannot hold a value (DECIMAL beyond 28 significant digits, "
         "TIME outside 00:00:00-23:59:59.999999); select that column CAST(... AS CHAR) in a `query`"),
        (r"type mismatch", ConfigurationError, "{what}: a column's values change type (SQLite guesses types "
                                               "from the first rows; NULL-only leading rows read as integers)"),
    ))
log = logging.getLogger(__name__)
_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]*@")


class SqlSource(Source):
    types = ("sqlite", "postgres", "postgresql", "mysql", "mariadb")
    config: SqlConfig

    def __init__(self, config: SqlConfig, base_dir: Path):
        super().__init__(config, base_dir)
        self.dialect = DIALECTS[config.type]
        self._conn: Any = None  # ADBC connection; for MySQL a pymysql one (checks the login, escapes literals)
        self._cursors: set[Any] = set()  # open ADBC cursors: they must close before their connection
        self._what: str = "query"  # the table or query being read, for messages
        self._table: str | None = None

    def streams(self) -> list[Stream]:
        inc = self.config.incremental
        by_cursor = inc is not None and inc.enabled and inc.strategy is IncrementalStrategy.CURSOR
        default_cursor = inc.cursor_field if by_cursor and inc else None
        return [Stream(object=t.object_name, cursor_field=t.cursor_field or default_cursor,
                       primary_key=tuple(t.primary_key), lookback=inc.window if inc else None)
                for t in self.config.tables]

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        table = self.config.tables[[s.object for s in self.streams()].index(stream.object)]
        what = f"table {table.name}" if table.name else f"query of {stream.object}"
        self._what, self._table = what, table.name
        window = self.window(stream, state) if stream.cursor_field else None
        bound = window.lower_bound() if window else None
        sql, params = self._select(table, stream, bound)
        with self._translated(what):
            if self.dialect is _MYSQL:
                self._check_mysql_decimals(self._select(table, replace(stream, cursor_field=None), None)[0])
            ranges = self._plan_ranges(table, stream, bound)
            if ranges is not None:
                yield from self._read_ranges(table, stream, bound, ranges, what, window)
                return
            reader, done = getattr(self, self.dialect.execute)(sql, params)
            try:
                conversions = self._conversions(reader, stream, what)
                yield from self._admitted(self._batches(reader, conversions), window)
            finally:
                done()

    def _conversions(self, reader: Any, stream: Stream, what: str) -> dict[str, Any]:
        if stream.cursor_field and stream.cursor_field not in reader.schema.names:
            raise ConfigurationError(f"{what}: cursor column {stream.cursor_field!r} is not in its columns",
                                     hint=f"columns: {', '.join(reader.schema.names)}")
        return sql_types.plan(reader.schema, what)

    def _batches(self, reader: Any, conversions: dict[str, Any]) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            for start in range(0, batch.num_rows, self.config.batch_rows):
                yield sql_types.apply(batch.slice(start, self.config.batch_rows), conversions)

    @staticmethod
    def _admitted(batches: Iterator[pa.RecordBatch], window: Any) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            part = window.admit(batch) if window else batch
            if part.num_rows:
                yield part

    def _plan_ranges(self, table: SqlTable, stream: Stream,
                     bound: tuple[Any, bool] | None) -> sql_ranges.RangePlan | None:
        """PostgreSQL tables: a parallel read from one snapshot when the server would scan the table anyway
        (sql_ranges); else None. A plan the server refuses (e.g. a pooler that cannot share a snapshot between
        connections, a missing table) falls back to the one-connection read, which reports a real problem itself."""
        if self.dialect is not _POSTGRES or table.name is None or self.config.read_connections < 2:
            return None
        unordered, _ = self._select(table, replace(stream, cursor_field=None), None, self._cursor_filter(stream, bound))
        try:
            return sql_ranges.plan(lambda: self._open_postgres(autocommit=False), unordered,
                                   quote_identifier(table.name, '"', qualified=True), self.config.read_connections)
        except Exception as exc:  # noqa: BLE001 - the single read decides what is wrong, with its own messages
            log.warning("%s: reading on one connection; a parallel read was refused (%s)", self._what,
                        _URL_PASSWORD.sub(r"\1***@", " ".join(str(exc).split()))[:300])
            return None

    def _read_ranges(self, table: SqlTable, stream: Stream, bound: tuple[Any, bool] | None,
                     ranges: sql_ranges.RangePlan, what: str, window: Any) -> Iterator[pa.RecordBatch]:
        """Each block range on its own connection and thread (all in one snapshot), interleaved into one stream;
        unordered (the cursor's maximum and the window do not depend on the order of the rows)."""
        filters = [self._cursor_filter(stream, bound)] if bound is not None else []
        cursors = []
        try:
            readers = []
            for connection, condition in zip(ranges.connections, ranges.conditions, strict=True):
                sql, _ = self._select(table, replace(stream, cursor_field=None), None,
                                      " AND ".join(filters + [condition]))
                cursor = connection.cursor()
                cursors.append(cursor)
                cursor.execute(sql)
                readers.append(cursor.fetch_record_batch())
            conversions = self._conversions(readers[0], stream, what)

            def translated(reader: Any) -> Iterator[pa.RecordBatch]:
                with self._translated(what):
                    yield from self._batches(reader, conversions)

            yield from self._admitted(interleave([translated(r) for r in readers]), window)
        finally:
            for cursor in cursors:
                with contextlib.suppress(Exception):  # its connection may be the one that broke
                    cursor.close()
            ranges.close()

    def close(self) -> None:
        for cursor in list(self._cursors):
            cursor.close()
        self._cursors.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- SQL ---------------------------------------------------------------------------------------------------

    def _select(self, table: SqlTable, stream: Stream, bound: tuple[Any, bool] | None,
                extra: str = "") -> tuple[str, tuple[Any, ...]]:
        """SELECT of the table (or wrapped query), from the window's lower `bound` (value, inclusive) on, ordered
        by the cursor; `extra` is one more condition (a key range of a parallel read)."""
        if table.name is not None:
            sql = f"SELECT * FROM {quote_identifier(table.name, self.dialect.quote, qualified=True)}"
        else:
            sql = f"SELECT * FROM ({str(table.query).strip().rstrip(';')}) AS dativo_q"
        params: tuple[Any, ...] = ()
        conditions = [extra] if extra else []
        if stream.cursor_field and bound is not None:
            if self.dialect.literal is None:
                column = quote_identifier(stream.cursor_field, self.dialect.quote)
                conditions.insert(0, f"{column} {'>=' if bound[1] else '>'} ?")
                params = (_sqlite_value(bound[0]),)
            else:
                conditions.insert(0, self._cursor_filter(stream, bound))
        if conditions:
            sql = f"{sql} WHERE {' AND '.join(conditions)}"
        if stream.cursor_field:
            sql = f"{sql} ORDER BY {quote_identifier(stream.cursor_field, self.dialect.quote)}"
        return sql, params

    def _cursor_filter(self, stream: Stream, bound: tuple[Any, bool] | None) -> str:
        """The cursor's lower bound as SQL with a literal (servers whose drivers stream only without parameters),
        or "" when the read starts at the beginning."""
        if not stream.cursor_field or bound is None or self.dialect.literal is None:
            return ""
        column = quote_identifier(stream.cursor_field, self.dialect.quote)
        return f"{column} {'>=' if bound[1] else '>'} {getattr(self, self.dialect.literal)(bound[0])}"

    def _mysql_literal(self, value: Any) -> str:
        """Escaped by pymysql on a live connection, which follows the server's NO_BACKSLASH_ESCAPES mode."""
        return self._connection().escape(value)

    @staticmethod
    def _postgres_literal(value: Any) -> str:
        """Numbers as such; the rest as a dollar-quoted (untyped) literal the server casts to the column's type."""
        if isinstance(value, (int, float, Decimal)) and math.isfinite(value):
            return str(value)
        return dollar_quote(value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value))

    # --- drivers -----------------------------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None:
            with self._translated("connection"):
                self._conn = getattr(self, self.dialect.open)()
        return self._conn

    def _sqlite_path(self) -> Path:
        raw = self.config.dsn.resolve(self.base_dir).removeprefix("sqlite:///") if self.config.dsn \
            else str(self.config.connection.database)
        return Path(resolve_relative(raw, self.base_dir))

    def _url(self) -> str:
        """The server URL: `dsn` (scheme normalised for the driver) or one built from `connection`."""
        if self.config.dsn is not None:
            return urlsplit(self.config.dsn.resolve(self.base_dir))._replace(scheme=self.dialect.scheme).geturl()
        c = self.config.connection
        login = quote(c.user or "", safe="")
        if c.password is not None:
            login += ":" + quote(c.password.resolve(self.base_dir), safe="")
        query = f"?{urlencode(c.options)}" if c.options else ""
        return (f"{self.dialect.scheme}://{login + '@' if login else ''}{c.host}:{c.port or self.dialect.port}"
                f"/{quote(c.database or '', safe='')}{query}")

    def _database_label(self) -> str:
        """Names the database in messages; never the password."""
        try:
            if self.config.type == "sqlite":
                return f"sqlite database {self._sqlite_path()}"
            url = urlsplit(self._url())
            return f"{self.config.type} database {unquote(url.path.lstrip('/'))!r} on {url.hostname}:{url.port}"
        except Exception:  # e.g. an unset secret: already the error being reported
            return f"{self.config.type} database"

    def _open_sqlite(self) -> Any:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        path = self._sqlite_path()
        if not path.is_file():  # sqlite would silently create an empty database
            raise SourceNotFoundError(f"sqlite database file {path} does not exist",
                                      hint="check source.connection.database (relative to the job file)")
        return adbc_sqlite.connect(str(path))

    def _open_postgres(self, autocommit: bool = True) -> Any:
        """autocommit: no transaction left open between reads; without: a parallel read's snapshot (sql_ranges)."""
        import adbc_driver_postgresql.dbapi as adbc_pg

        return adbc_pg.connect(self._url(), autocommit=autocommit)

    def _open_mysql(self) -> Any:
        """A quick pymysql login: connectorx would retry a refused login for 30 s before failing."""
        import pymysql

        url = urlsplit(self._url())
        return pymysql.connect(host=url.hostname or "127.0.0.1", port=url.port or 3306, connect_timeout=10,
                               user=unquote(url.username or ""), password=unquote(url.password or ""),
                               database=unquote(url.path.lstrip("/")) or None, charset="utf8mb4")

    def _execute_adbc(self, sql: str, params: tuple[Any, ...]) -> Any:
        cursor = self._connection().cursor()
        self._cursors.add(cursor)
        if self.dialect.options:
            cursor.adbc_statement.set_options(**dict(self.dialect.options))
        cursor.execute(sql, params or None)

        def release() -> None:
            self._cursors.discard(cursor)
            cursor.close()

        return cursor.fetch_record_batch(), release

    def _execute_connectorx(self, sql: str, params: tuple[Any, ...]) -> Any:
        import connectorx

        self._connection()  # fail fast on login errors
        reader = connectorx.read_sql(self._url(), sql, return_type="arrow_stream", batch_size=self.config.batch_rows)
        return reader, lambda: None

    def _check_mysql_decimals(self, sql: str) -> None:
        """connectorx reads every DECIMAL as decimal(38, 10), rounding digits past the 10th silently, and cannot
        hold more than 28 digits: refuse such columns up front, naming them (the server describes the result)."""
        with self._connection().cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({sql}) AS dativo_probe LIMIT 0")
            for name, type_code, _, length, _, scale, _ in cursor.description or ():
                precision = length - 1 - (1 if scale else 0)  # the length counts the sign and the decimal point
                if type_code in (0, 246) and (scale > sql_types.MYSQL_DECIMAL_SCALE
                                              or precision - scale > sql_types.MYSQL_DECIMAL_INTEGER_DIGITS):
                    raise sql_types.cannot_land(
                        self._what, name, f"DECIMAL({precision}, {scale}) (the MySQL driver holds at most "
                        f"{sql_types.MYSQL_DECIMAL_INTEGER_DIGITS} integer and {sql_types.MYSQL_DECIMAL_SCALE} "
                        "fractional digits)", f"CAST({name} AS CHAR)")

    def _nearest_table(self) -> str | None:
        """Names the existing table closest to the missing one (for the error's hint)."""
        import difflib

        listing = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')",
            "postgres": "SELECT CASE WHEN table_schema = current_schema() THEN table_name ELSE table_schema || '.' "
                        "|| table_name END FROM information_schema.tables WHERE table_schema NOT IN "
                        "('pg_catalog', 'information_schema')",
            "mysql": "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        }[self.dialect.scheme if self.dialect.scheme != "postgresql" else "postgres"]
        try:
            cursor = self._connection().cursor()
            try:
                cursor.execute(listing)
                names = [str(row[0]) for row in cursor.fetchall()]
            finally:
                cursor.close()
        except Exception:  # noqa: BLE001 - a hint is optional; the error itself is what matters
            return None
        close = difflib.get_close_matches(str(self._table), names, n=3, cutoff=0.5)
        if close:
            return f"nearest existing table(s): {', '.join(close)}"
        return f"existing tables: {', '.join(sorted(names)[:20])}" if names else "the database has no tables"

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """Driver exceptions -> engine errors naming the table and database, with credentials scrubbed."""
        try:
            yield
        except DativoError:
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise  # KeyboardInterrupt, SystemExit
            # connectorx panics (a BaseException) on values its Rust types cannot hold, e.g. DECIMAL beyond 28
            # digits or TIME beyond 24 h
            message = _URL_PASSWORD.sub(r"\1***@", " ".join(str(exc).split()))
            context = {"what": what, "database": self._database_label()}
            for pattern, error, summary in _DRIVER_ERRORS:
                if pattern.search(message):
                    hint = self._nearest_table() if "{what} not found" in summary and self._table else None
                    raise error(f"{summary.format(**context)}: {message}", hint=hint) from None
            error = TransientError if classify(exc) is ErrorKind.TRANSIENT else PermanentError
            raise error(f"{what} ({context['database']}): {type(exc).__name__}: {message}") from None


def quote_identifier(name: str, quote_char: str, qualified: bool = False) -> str:
    """`name` (or `schema.table` when qualified) quoted, embedded quote characters doubled."""
    parts = name.split(".") if qualified else [name]
    if any(not part or any(unicodedata.category(ch) == "Cc" for ch in part) for part in parts):
        raise ConfigurationError(f"identifier {name!r} is empty or contains control characters")
    return ".".join(quote_char + part.replace(quote_char, quote_char * 2) + quote_char for part in parts)


def dollar_quote(text: str) -> str:
    """A PostgreSQL dollar-quoted literal: no escaping rules at all, so no setting can change its meaning."""
    if "\x00" in text:
        raise ConfigurationError("a cursor value contains a NUL character")
    tag = "dativo"
    while f"${tag}" in text:
        tag += "_"
    return f"${tag}${text}${tag}$"


def _sqlite_value(value: Any) -> Any:
    """SQLite stores times as ISO text: bind them as such."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if isinstance(value, dt.date) else value
