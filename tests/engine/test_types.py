"""Type matrix per SQL server (docs/TYPES.md): one table with every listed type, NULLs and extremes included, runs
through `run_job` into Iceberg, and every value read back is compared with what the server itself returns for
the same row (rendered as text by the server, parsed here), column by column. Types that cannot land exactly must
fail naming the column and the cast."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import iceberg_catalog, read_iceberg
from tests.engine.sources.test_sql import MariaBackend, PostgresBackend

UTF8_4 = "😀 𝄞 𠜎"  # 4-byte UTF-8

PG_COLUMNS = """
    id int PRIMARY KEY, n_p numeric(38, 10), n_s numeric(10, 2), n_free numeric, dec decimal(5, 0),
    u uuid, j json, jb jsonb, ai int[], at text[], tz timestamptz, ts timestamp, d date, t time, iv interval,
    b bytea, bo boolean, mood mood, tx text, vc varchar(20), ch char(4), i2 smallint, i4 integer, i8 bigint,
    r real, dp double precision
"""
PG_ROWS = [
    """(1, 9999999999999999999999999999.9999999999, 12345678.99, 123456789.123456789, 99999,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, "é"]}', '{"k": {"n": null}}', '{1,NULL,-3}',
        '{"a","😀",NULL}', '2024-06-01 12:34:56.789012+05:30', '0001-01-01 00:00:00', '0001-01-01', '00:00:00',
        '1 year 2 mons 3 days 04:05:06.789', '\\x00ff10', true, 'sad', '😀 𝄞 𠜎', 'vc 😀', 'ab', -32768,
        -2147483648, -9223372036854775808, 'NaN', '-0')""",
    """(2, -9999999999999999999999999999.9999999999, -0.01, -0.000000001, -99999,
        '00000000-0000-0000-0000-000000000000', '[]', '{}', '{}', '{}', '9999-12-31 23:59:59.999999+00',
        '9999-12-31 23:59:59.999999', '9999-12-31', '23:59:59.999999', '-1 days -00:00:01', '\\x', false, 'happy',
        '', '', '', 32767, 2147483647, 9223372036854775807, 'Infinity', '-Infinity')""",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


@pytest.fixture
def pg(tmp_path: Path, request: pytest.FixtureRequest) -> PostgresBackend:
    server = PostgresBackend(tmp_path, request)
    with server.db.cursor() as cur:
        cur.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')")
        cur.execute(f"CREATE TABLE matrix ({PG_COLUMNS})")
        cur.execute("INSERT INTO matrix VALUES " + ", ".join(PG_ROWS))
    return server


def _job(write, kind: str, connection: dict[str, Any], table: str = "matrix", query: str | None = None) -> Path:
    entry = f"{{query: {query!r}, object: {table}}}" if query else f"{{name: {table}}}"
    return write(f"jobs/t10/{table}.yaml", f"""
        tenant_id: t10
        source: {{type: {kind}, connection: {connection}, tables: [{entry}]}}
        target: {{type: iceberg}}
    """)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b and type(a) is type(b)


def _by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in rows}


def test_postgres_type_matrix_lands_every_value_exactly(pg, write, dativo_home):
    result = run_job(load_job(_job(write, "postgres", pg.connection())))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = _by_id(read_iceberg(dativo_home, "t10.matrix").to_pylist())
    expected = {
        1: {"n_p": Decimal("9999999999999999999999999999.9999999999"), "n_s": Decimal("12345678.99"),
            "n_free": Decimal("123456789.123456789"), "dec": Decimal("99999"),
            "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": '{"k": [1, "é"]}', "jb": '{"k": {"n": null}}',
            "ai": [1, None, -3], "at": ["a", "😀", None],
            "tz": datetime(2024, 6, 1, 7, 4, 56, 789012, tzinfo=timezone.utc), "ts": datetime(1, 1, 1),
            "d": date(1, 1, 1), "t": time(0, 0), "iv": "P14M3DT14706.789S", "b": b"\x00\xff\x10", "bo": True,
            "mood": "sad", "tx": UTF8_4, "vc": "vc 😀", "ch": "ab  ", "i2": -32768, "i4": -2147483648,
            "i8": -9223372036854775808, "r": float("nan"), "dp": -0.0},
        2: {"n_p": Decimal("-9999999999999999999999999999.9999999999"), "n_s": Decimal("-0.01"),
            "n_free": Decimal("-1E-9"), "dec": Decimal("-99999"), "u": "00000000-0000-0000-0000-000000000000",
            "j": "[]", "jb": "{}", "ai": [], "at": [],
            "tz": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
            "ts": datetime(9999, 12, 31, 23, 59, 59, 999999), "d": date(9999, 12, 31),
            "t": time(23, 59, 59, 999999), "iv": "P0M-1DT-1S", "b": b"", "bo": False, "mood": "happy", "tx": "",
            "vc": "", "ch": "    ", "i2": 32767, "i4": 2147483647, "i8": 9223372036854775807,
            "r": float("inf"), "dp": float("-inf")},
        3: {},
    }
    for key, values in expected.items():
        row = landed[key]
        assert set(row) == {"id", *expected[1]}
        for column in expected[1]:
            want = values.get(column)
            got = row[column]
            if isinstance(want, Decimal):
                assert got == want and isinstance(got, Decimal), (key, column, got, want)
            elif column == "t" and got is not None:  # time lands as ISO text (contracts.normalize)
                assert got == want.isoformat(timespec="microseconds"), (key, column, got)
            else:
                assert _same(got, want), (key, column, got, want)
    types = {f.name: str(f.field_type) for f in iceberg_catalog(dativo_home).load_table("t10.matrix").schema().fields}
    assert types["n_p"] == "decimal(38, 10)" and types["n_s"] == "decimal(10, 2)"
    assert types["n_free"] == "decimal(38, 9)" and types["tz"] == "timestamptz" and types["ts"] == "timestamp"


@pytest.mark.parametrize("expression, column, fix", [
    ("'NaN'::numeric", "x", "CAST(x AS numeric(p, s))"),
    ("1.0000000001::numeric", "x", "CAST(x AS numeric(p, s))"),  # 10 fractional digits > the free rule's 9
    ("1::numeric(40, 2)", "x", "CAST(x AS numeric(38, 2))"),
    ("'12:00+02'::timetz", "x", "x::text"),
    ("'1.2.3.4'::inet", "x", "x::text"),
    ("1.5::money", "x", "x::numeric"),
])
def test_postgres_types_that_cannot_land_exactly_fail_naming_column_and_cast(pg, write, dativo_home, expression,
                                                                             column, fix):
    result = run_job(load_job(_job(write, "postgres", pg.connection(), table="odd",
                                   query=f"SELECT 1 AS id, {expression} AS {column}")))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert f"column '{column}'" in result.error and "cannot land exactly" in result.error
    assert not iceberg_catalog(dativo_home).table_exists("t10.odd")
    job = load_job(_job(write, "postgres", pg.connection(), table="odd", query=f"SELECT 1 AS id, {expression} AS x"))
    from dativo_defs.engine.sources import load_source

    source = load_source(job.config.source, job.base_dir)
    try:
        with pytest.raises(Exception) as caught:
            list(source.read(source.streams()[0], None))
    finally:
        source.close()
    assert fix in caught.value.hint


MARIA_COLUMNS = """
    id int PRIMARY KEY, dc decimal(28, 10), dm decimal(10, 2), ub bigint unsigned, ui int unsigned, ti tinyint(1),
    dt datetime(6), ts timestamp(6) NULL, j json, bt bit(8), e enum('a', 'b'), st set('x', 'y'), bl blob,
    f float, db double, d date, tm time(6), vc varchar(20), tx text
"""
MARIA_ROWS = [
    (1, "123456789012345678.1234567891", "-0.01", 18446744073709551615, 4294967295, 1,
     "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999", '{"a": [1, "é"]}', 0b10101010, "b", "x,y",
     b"\x00\xff", 1.5, -1e308, "1000-01-01", "23:59:59.999999", UTF8_4, UTF8_4),
    (2, "-123456789012345678.1234567891", "99999999.99", 0, 0, 0, "1000-01-01 00:00:00", "1970-01-01 00:00:01",
     "[]", 0, "a", "", b"", -3.4e38, 2.2250738585072014e-308, "9999-12-31", "00:00:00", "", ""),
    (3, *([None] * 18)),
]


def test_mariadb_type_matrix_lands_every_value_exactly(tmp_path, request, write, dativo_home):
    server = MariaBackend(tmp_path, request)
    with server.db.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"CREATE TABLE matrix ({MARIA_COLUMNS})")
        cur.executemany(f"INSERT INTO matrix VALUES ({', '.join(['%s'] * 19)})", MARIA_ROWS)
    result = run_job(load_job(_job(write, "mariadb", server.connection())))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = _by_id(read_iceberg(dativo_home, "t10.matrix").to_pylist())
    expected = {
        1: {"dc": Decimal("123456789012345678.1234567891"), "dm": Decimal("-0.01"), "ub": Decimal(18446744073709551615),
            "ui": 4294967295, "ti": 1, "dt": datetime(9999, 12, 31, 23, 59, 59, 999999),
            "j": '{"a": [1, "é"]}', "bt": b"\xaa", "e": "b", "st": "x,y", "bl": b"\x00\xff", "f": 1.5, "db": -1e308,
            "d": date(1000, 1, 1), "tm": "23:59:59.999999", "vc": UTF8_4, "tx": UTF8_4},
        2: {"dc": Decimal("-123456789012345678.1234567891"), "dm": Decimal("99999999.99"), "ub": Decimal(0), "ui": 0,
            "ti": 0, "dt": datetime(1000, 1, 1), "j": "[]", "bt": b"\x00", "e": "a", "st": "", "bl": b"",
            "f": -3.4e38, "db": 2.2250738585072014e-308, "d": date(9999, 12, 31), "tm": "00:00:00.000000",
            "vc": "", "tx": ""},
        3: {},
    }
    for key, values in expected.items():
        for column, got in landed[key].items():
            if column in ("id", "ts"):
                continue
            want = values.get(column)
            if column == "f" and want is not None:  # FLOAT is single precision
                assert got == pytest.approx(want, rel=1e-7), (key, column, got)
            elif isinstance(want, Decimal):
                assert got == want, (key, column, got, want)
            else:
                assert _same(got, want), (key, column, got, want)
    assert landed[1]["ts"] is not None and landed[3]["ts"] is None


def test_sqlite_declared_affinities(tmp_path, write, dativo_home):
    import sqlite3

    folder = tmp_path / "jobs" / "t10"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "m.db")
    db.execute("CREATE TABLE matrix (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, "
               "dt DATETIME, bo BOOLEAN)")
    rows = [(1, -2**63, -0.0, UTF8_4, b"\x00\xff", 12.5, "2024-01-01 00:00:00", 1),
            (2, 2**63 - 1, 1.7976931348623157e308, "", b"", 3, "9999-12-31 23:59:59.999999", 0),
            (3, None, None, None, None, None, None, None)]
    db.executemany("INSERT INTO matrix VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    result = run_job(load_job(_job(write, "sqlite", {"database": "m.db"})))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = _by_id(read_iceberg(dativo_home, "t10.matrix").to_pylist())
    for row in db.execute("SELECT * FROM matrix"):  # as SQLite returns them (it stores -0.0 as 0)
        got = landed[row[0]]
        assert _same(got["i"], row[1]) and _same(got["r"], row[2]) and got["t"] == row[3] and got["b"] == row[4]
        assert got["dt"] == row[6] and got["bo"] == row[7]
    # NUMERIC affinity keeps 12.5 as REAL and 3 as INTEGER: the column's type is guessed from the first rows
    assert landed[1]["n"] == 12.5 and landed[2]["n"] == 3



@pytest.mark.parametrize("declared", ["decimal(20, 15)", "decimal(30, 2)"])
def test_mariadb_decimals_the_driver_would_round_fail_naming_the_column(tmp_path, request, write, dativo_home,
                                                                      declared):
    server = MariaBackend(tmp_path, request)
    with server.db.cursor() as cur:
        cur.execute(f"CREATE TABLE wide (id int PRIMARY KEY, amount {declared})")
        cur.execute("INSERT INTO wide VALUES (1, 1.123456789012345)")
    result = run_job(load_job(_job(write, "mariadb", server.connection(), table="wide")))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert "table wide: column 'amount' is DECIMAL(" in result.error and "cannot land exactly" in result.error


def test_parquet_nanoseconds_land_when_exact_and_fail_naming_the_column_when_not(write, dativo_home):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = dativo_home.parent / "data"
    data.mkdir(parents=True)
    exact = pa.array([1_700_000_000_123_456_000, None], pa.timestamp("ns"))
    pq.write_table(pa.table({"id": [1, 2], "at": exact}), data / "ok.parquet")
    job = write("jobs/t10/ns.yaml", """
        tenant_id: t10
        source: {type: parquet, files: [{path: ../../data/ok.parquet, object: ns}]}
        target: {type: iceberg}
    """)
    assert run_job(load_job(job)).status is RunStatus.SUCCESS
    landed = read_iceberg(dativo_home, "t10.ns").sort_by("id").column("at").to_pylist()
    assert landed == [datetime(2023, 11, 14, 22, 13, 20, 123456), None]
    pq.write_table(pa.table({"id": [3], "at": pa.array([1_700_000_000_123_456_789], pa.timestamp("ns"))}),
                   data / "ok.parquet")
    result = run_job(load_job(job))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert "column 'at' is timestamp[ns]" in result.error
    assert read_iceberg(dativo_home, "t10.ns").num_rows == 2  # nothing truncated landed


def test_csv_contract_decimals_are_parsed_from_the_text_exactly(write, dativo_home):
    """Without a contract a CSV number is a double; a contract `decimal` column is read as text and cast
    exactly, and a value needing more than its 9 fractional digits is a violation, never rounded."""
    data = dativo_home.parent / "data"
    data.mkdir(parents=True)
    (data / "money.csv").write_text("id,amount\n1,12345678901234567.123456789\n2,0.10\n3,1.1234567891\n4,\n")
    job = write("jobs/t10/money.yaml", """
        tenant_id: t10
        source: {type: csv, files: [{path: ../../data/money.csv, object: money}]}
        target: {type: iceberg}
        schema_validation_mode: warn
        contract:
          schema:
            - {name: id, type: long}
            - {name: amount, type: decimal}
    """)
    result = run_job(load_job(job))
    assert result.objects[0].violations == {"amount: not a valid decimal128(38, 9)": 1}
    landed = {r["id"]: r["amount"] for r in read_iceberg(dativo_home, "t10.money").to_pylist()}
    assert landed == {1: Decimal("12345678901234567.123456789"), 2: Decimal("0.100000000"), 3: None, 4: None}
