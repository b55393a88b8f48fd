"""Failures that a retry fixes are classified transient, from the real exceptions of the real libraries: a
locked embedded catalog, a truncated API page, a lost race for a commit."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy

from dativo_defs.config.loader import load_job
from dativo_defs.engine.errors import ConcurrentRunError, ErrorKind, classify
from dativo_defs.engine.runner import run_job


def test_a_locked_sqlite_catalog_is_transient(tmp_path):
    path = tmp_path / "catalog.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("create table t (x int)")
    holder.execute("begin exclusive")
    engine = sqlalchemy.create_engine(f"sqlite:///{path}?timeout=0.1")
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("insert into t values (1)"))
    holder.close()
    assert "database is locked" in str(caught.value)
    assert classify(caught.value) is ErrorKind.TRANSIENT


def test_an_overlapping_run_is_transient():
    assert classify(ConcurrentRunError("another run of job t/j committed")) is ErrorKind.TRANSIENT


class _Truncated(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps([{"id": i} for i in range(50)]).encode()[:-40]  # cut mid-record, like a dropped connection
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_truncated_api_page_fails_the_run_as_transient(write, dativo_home, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Truncated)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        job = load_job(write("jobs/t1/api.yaml", f"""
            tenant_id: t1
            source:
              type: rest
              base_url: http://127.0.0.1:{server.server_address[1]}
              retry: {{attempts: 1, backoff_seconds: 0, max_delay_seconds: 0}}
              resources: [{{object: items, path: /items}}]
            target: {{type: iceberg}}
        """))
        result = run_job(job)
    finally:
        server.shutdown()
    assert result.status.value == "failed" and result.error_kind == "transient" and result.exit_code == 3, result.error
