"""Failure classification, structured log lines, and secrets that never leak."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError

from dativo_defs.config.loader import load_job
from dativo_defs.engine.errors import ErrorKind, classify
from dativo_defs.engine.runner import run_job
from tests.engine import faults

CANARY = "canary-Zq8xW2-secret"


@pytest.mark.parametrize("exc, kind", [
    (requests.ConnectionError("boom"), ErrorKind.TRANSIENT),
    (requests.Timeout("slow"), ErrorKind.TRANSIENT),
    (ConnectionResetError("reset by peer"), ErrorKind.TRANSIENT),
    (TimeoutError(), ErrorKind.TRANSIENT),
    (CommitFailedException("conflict"), ErrorKind.TRANSIENT),
    (RuntimeError("HTTP 503 Service Unavailable"), ErrorKind.TRANSIENT),
    (RuntimeError("server closed the connection unexpectedly"), ErrorKind.TRANSIENT),
    (FileNotFoundError("x.csv"), ErrorKind.PERMANENT),
    (NoSuchTableError("t"), ErrorKind.PERMANENT),
    (RuntimeError('password authentication failed for user "x"'), ErrorKind.PERMANENT),
    (RuntimeError("relation \"orders\" does not exist"), ErrorKind.PERMANENT),
    (ValueError("something odd"), ErrorKind.PERMANENT),
])
def test_classification(exc, kind):
    assert classify(exc) is kind


def test_retryable_patterns_mark_messages_transient():
    assert classify(ValueError("quota exceeded for today"), [r"quota exceeded"]) is ErrorKind.TRANSIENT
    assert classify(ValueError("quota exceeded for today"), [r"^nope$"]) is ErrorKind.PERMANENT


def test_log_lines_are_structured_and_secrets_are_masked(write, dativo_home, monkeypatch, caplog):
    monkeypatch.setenv("CATALOG_SECRET", CANARY)
    dativo_home.mkdir(parents=True)
    (dativo_home.parent / "data").mkdir(parents=True)
    (dativo_home.parent / "data/a.csv").write_text("id\n1\n2\n")
    job = load_job(write("jobs/t4/leaky.yaml", f"""
        tenant_id: t4
        source: {{type: csv, files: [{{path: ../../data/a.csv}}]}}
        target:
          type: iceberg
          catalog:
            uri: sqlite:///{dativo_home}/other.db
            warehouse: {dativo_home}/wh
            secret_properties: {{s3.secret-access-key: {{env: CATALOG_SECRET}}}}
        logging: {{level: DEBUG}}
    """))

    class LeakyError(ConnectionError):
        def __init__(self, message: str):
            super().__init__(f"{message}; driver echoed dsn postgresql://u:{CANARY}@db/x")

    faults.install(monkeypatch, fail_after=0, error=LeakyError)
    caplog.set_level(logging.DEBUG, logger="dativo")
    result = run_job(load_job(job.file))
    assert result.error_kind == "transient" and "***" in result.error and CANARY not in result.error
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dativo"]
    assert [line["event_type"] for line in lines] == ["job_started", "job_failed"]
    for line in lines:
        assert {"timestamp", "level", "event_type", "tenant_id", "job", "source_type", "target_type", "run_id",
                "caller"} <= line.keys()
    assert all(CANARY not in r.getMessage() for r in caplog.records)
    assert CANARY not in json.dumps(result.to_dict(), default=str)


def test_ordinary_values_are_not_redacted(write, dativo_home, caplog):
    (dativo_home.parent / "data").mkdir(parents=True)
    (dativo_home.parent / "data/a.csv").write_text("id\n1\n")
    caplog.set_level(logging.INFO, logger="dativo")
    result = run_job(load_job(write("jobs/t4/plain.yaml", """
        tenant_id: t4
        source: {type: csv, files: [{path: ../../data/a.csv}]}
        target: {type: iceberg}
    """)))
    assert result.rows_written == 1
    assert any('"tenant_id": "t4"' in r.getMessage() for r in caplog.records)


def test_dativo_run_child_carries_the_callers_run_ids(write, dativo_home, tmp_path):
    """airflow_bridge's subprocess mode runs `dativo run` as a child; its log lines must name the Airflow run."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (dativo_home.parent / "data").mkdir(parents=True)
    (dativo_home.parent / "data/a.csv").write_text("id\n1\n")
    job = write("jobs/t4/child.yaml", """
        tenant_id: t4
        source: {type: csv, files: [{path: ../../data/a.csv}]}
        target: {type: iceberg}
    """)
    events = tmp_path / "events.jsonl"
    env = {**os.environ, "DATIVO_EVENT_LOG": str(events),
           "DATIVO_CALLER_RUN_IDS": json.dumps({"caller": "airflow", "airflow/dag_id": "d1", "airflow/run_id": "r1"})}
    done = subprocess.run([str(Path(sys.executable).parent / "dativo"), "run", "--config", str(job)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert {line["caller"] for line in lines} == {"airflow"}
    assert all(line["caller_run_ids"] == {"airflow/dag_id": "d1", "airflow/run_id": "r1"} for line in lines)
