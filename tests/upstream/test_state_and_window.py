"""Upstream incremental semantics against a real PostgreSQL: the state-file migration (first run reads only rows
newer than upstream's saved cursor) and `lookback_days` as a first-run window (later runs never re-read)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job
from tests.conftest import need_server

from .project import job, upstream_project, write

SERVER = "127.0.0.1:5432"
ASSET = """
    asset:
      name: pg_orders
      source_type: postgres
      object: orders
      schema:
        - {name: id, type: bigint, required: true}
        - {name: updated_at, type: timestamp, required: true}
        - {name: total, type: double}
      governance: {owner: data@acme.test}
      compliance: {classification: [SENSITIVE], retention_days: 30}
"""
JOB = """
    tenant_id: acme
    source_connector: postgres
    source_connector_path: /app/connectors/postgres.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: pg_orders
    asset_path: /app/assets/pg_orders.yaml
    source:
      tables:
        - {name: public.orders, object: orders, cursor_field: updated_at}
      incremental: {lookback_days: 1}
      connection: {host: 127.0.0.1, port: 5432, database: "${PGDATABASE}", user: postgres}
    target:
      warehouse: {warehouse}
"""


@pytest.fixture
def pg(request: pytest.FixtureRequest):
    import adbc_driver_postgresql.dbapi as adbc_pg

    name = f"dativo_up_{uuid.uuid4().hex[:8]}"
    try:
        admin = adbc_pg.connect(f"postgresql://postgres@{SERVER}/postgres", autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable server
        need_server(f"PostgreSQL on {SERVER}: {str(exc).splitlines()[0]}")
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    db = adbc_pg.connect(f"postgresql://postgres@{SERVER}/{name}", autocommit=True)
    with db.cursor() as cur:
        cur.execute("CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamp NOT NULL, total double precision)")
    yield name, db
    db.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def insert(db, rows: list[tuple[int, datetime]]) -> None:
    with db.cursor() as cur:
        for key, ts in rows:
            cur.execute(f"INSERT INTO orders VALUES ({key}, '{ts.isoformat(sep=' ')}', {key * 1.5})")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg):
    name, db = pg
    app = upstream_project(tmp_path / "repo")
    write(app / "assets/pg_orders.yaml", ASSET)
    for var in ("PGHOST", "PGPORT", "STATE_DIR", "DATIVO_APP_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PGDATABASE", name)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    file = job(app, "jobs/acme/orders.yaml", JOB.replace("{warehouse}", str(tmp_path / "lake")))
    return app, db, file, tmp_path / "home"


def read_back(home: Path) -> list[int]:
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("dativo", type="sql", uri=f"sqlite:///{home / 'catalog.db'}")
    table = catalog.load_table("acme.orders")
    return sorted(table.scan().to_arrow().column("id").to_pylist())


def test_upstream_state_file_seeds_the_first_run(setup, caplog: pytest.LogCaptureFixture) -> None:
    app, db, file, home = setup
    base = datetime(2025, 1, 1, 12, 0, 0)
    insert(db, [(i, base + timedelta(hours=i)) for i in range(1, 11)])
    # upstream's state file at its default place: .local/state/<tenant>/<recipe type>.<first object>.state.json
    state = write(app / ".local/state/acme/postgres.orders.state.json", json.dumps(
        {"orders.updated_at": {"last_value": (base + timedelta(hours=6)).isoformat(), "updated_at": "2025-01-02T00:00:00"}}))
    first = run_job(load_job(file), RunContext())
    assert first.status.value == "success", first.error
    assert first.rows_written == 4 and read_back(home) == [7, 8, 9, 10]
    assert '"event_type": "state_migrated"' in caplog.text and str(state) in caplog.text  # its use is logged
    # later runs follow dativo's committed cursor: nothing new, nothing re-read; the state file is not needed
    state.unlink()
    again = run_job(load_job(file), RunContext())
    assert again.rows_written == 0 and read_back(home) == [7, 8, 9, 10]
    insert(db, [(11, base + timedelta(hours=11))])
    assert run_job(load_job(file), RunContext()).rows_written == 1 and read_back(home) == [7, 8, 9, 10, 11]


def test_lookback_days_is_a_first_run_window_never_a_rerun(setup) -> None:
    _, db, file, home = setup
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    insert(db, [(i, now - timedelta(days=10, hours=i)) for i in range(1, 6)])  # outside the 1-day window
    insert(db, [(i, now - timedelta(minutes=i)) for i in range(6, 9)])          # inside it
    loaded = load_job(file)
    assert loaded.upstream.lookback_days == 1
    first = run_job(loaded, RunContext())
    assert first.status.value == "success", first.error
    assert first.rows_written == 3 and read_back(home) == [6, 7, 8]
    # upstream meaning: no re-read behind the cursor on later runs (dativo's own lookback would add rows here)
    assert run_job(load_job(file), RunContext()).rows_written == 0
    insert(db, [(9, now)])
    assert run_job(load_job(file), RunContext()).rows_written == 1 and read_back(home) == [6, 7, 8, 9]


def test_governance_and_ingest_date_partitioning_land_in_iceberg(setup) -> None:
    _, db, file, home = setup
    insert(db, [(1, datetime.now(timezone.utc).replace(tzinfo=None))])
    assert run_job(load_job(file), RunContext()).rows_written == 1
    from pyiceberg.catalog import load_catalog

    table = load_catalog("dativo", type="sql", uri=f"sqlite:///{home / 'catalog.db'}").load_table("acme.orders")
    props = table.properties
    # the recipe's ingest_date partitioning: the run's UTC date as an identity partition, in the data path too
    assert [f.name for f in table.spec().fields] == ["ingest_date"]
    today = datetime.now(timezone.utc).date()
    assert table.scan().to_arrow().column("ingest_date").to_pylist() == [today]
    assert all(f"/ingest_date={today.isoformat()}/" in task.file.file_path for task in table.scan().plan_files())
    assert props["classification.default"] == "sensitive" and props["governance.owner"] == "data@acme.test"
    assert props["governance.retention_days"] == "30"
