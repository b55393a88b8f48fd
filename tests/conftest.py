"""Shared fixtures. Server-backed tests skip locally with a loud reason but fail under CI
(DATIVO_REQUIRE_SERVERS=1, set by .ci/run)."""

from __future__ import annotations

import os
import shutil
import textwrap
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
