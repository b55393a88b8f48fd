"""Shared fixtures. Server-backed tests skip locally with a loud reason but fail under CI
(DATIVO_REQUIRE_SERVERS=1, set by .ci/run)."""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIRE_SERVERS = os.environ.get("DATIVO_REQUIRE_SERVERS") == "1"
_SUMMARY: list[str] = []


def summary(line: str) -> None:
    """A one-line result of an end-to-end phase, repeated at the end of the pytest run (and in CI's log)."""
    print(line)
    _SUMMARY.append(line)


def pytest_terminal_summary(terminalreporter) -> None:
    if _SUMMARY:
        terminalreporter.section("end-to-end phases")
        for line in _SUMMARY:
            terminalreporter.line(line)


def need_server(reason: str) -> None:
    """Skip (locally) or fail (CI) when a real server the test needs is missing."""
    if REQUIRE_SERVERS:
        pytest.fail(f"required server unavailable under CI: {reason}")
    pytest.skip(f"SERVER MISSING — {reason} (CI fails instead of skipping)")


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (the machine's server; trust auth), dropped afterwards.
    Yields its name. Skips locally / fails under CI when the server is missing."""
    import uuid

    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        need_server(f"PostgreSQL on 127.0.0.1:5432 ({exc})")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def write(tmp_path: Path):
    """write("jobs/a.yaml", '''yaml''') -> Path, dedented, parents created."""

    def _write(rel: str, text: str) -> Path:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def example_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the example project (configs/ + jobs/), selected through DATIVO_RUNNER_CONFIG."""
    for folder in ("configs", "jobs"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    runner = tmp_path / "configs" / "runner.yaml"
    monkeypatch.setenv("DATIVO_RUNNER_CONFIG", str(runner))
    monkeypatch.delenv("DATIVO_HOME", raising=False)
    return tmp_path


VALID_JOB = """\
tenant_id: acme
source:
  type: csv
  files:
    - path: data/x.csv
target:
  type: iceberg
"""


@pytest.fixture
def valid_job_text() -> str:
    return VALID_JOB


@pytest.fixture
def dativo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DATIVO_HOME (embedded catalog, warehouse, parquet datasets) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("DATIVO_HOME", str(home))
    return home
