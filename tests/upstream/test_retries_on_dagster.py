"""Upstream retry semantics where retries happen (Dagster's retry of the asset step): no `retry_config` means no
retry; with it every failure (exit code 2) is retried up to max_retries; patterns narrow what is retried."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from dativo_defs.assets import build_job_assets
from dativo_defs.config.loader import load_job

from .project import job, upstream_project
from .test_dialect import CSV_JOB


@pytest.mark.parametrize("retry, starts", [
    (None, 1),                                                                   # upstream: no retry_config, no retry
    ("{max_retries: 2, initial_delay_seconds: 0}", 3),                           # any failure retried (exit 2 in [1, 2])
    ("{max_retries: 2, initial_delay_seconds: 0, retryable_exit_codes: [1]}", 1),
    ("{max_retries: 2, initial_delay_seconds: 0, retryable_error_patterns: [timeout]}", 1),     # narrowed: no match
    ("{max_retries: 2, initial_delay_seconds: 0, retryable_error_patterns: ['DOES NOT exist']}", 3),
])
def test_upstream_job_retries_on_dagster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, retry, starts) -> None:
    caplog.set_level(logging.INFO, logger="dativo")
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    app = upstream_project(tmp_path / "app")  # data/people.csv is missing: every run fails (a permanent error here)
    text = CSV_JOB.replace("{warehouse}", str(tmp_path / "lake")) + (f"    retry_config: {retry}\n" if retry else "")
    loaded = load_job(job(app, "jobs/acme/people.yaml", text))
    with DagsterInstance.ephemeral() as instance:
        result = materialize([build_job_assets(loaded)], instance=instance, raise_on_error=False)
    assert not result.success
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dativo"]
    assert sum(e["event_type"] == "job_started" for e in events) == starts
    failed = [e for e in events if e["event_type"] == "job_failed"]
    assert all(e["native_kind"] == "permanent" for e in failed)  # dativo's own classification, kept in the event


@pytest.mark.parametrize("retry, starts", [
    (None, 1),                                                                    # no retry_config: no retry
    ("{max_retries: 2, initial_delay_seconds: 0}", 3),                            # exit 1 in the default [1, 2]
    ("{max_retries: 2, initial_delay_seconds: 0, retryable_exit_codes: [2]}", 1),  # partial not listed
    ("{max_retries: 1, initial_delay_seconds: 0, retryable_error_patterns: [timeout]}", 1),  # narrowed: no match
    ("{max_retries: 1, initial_delay_seconds: 0, retryable_error_patterns: ['contract violations']}", 2),
])
def test_upstream_partial_run_is_retried_when_exit_code_1_is_retryable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, retry, starts) -> None:
    """Exit code 1 (landed with warn-mode contract violations) is retried as upstream's RetryPolicy does; the
    last attempt stays a (partial) materialization."""
    caplog.set_level(logging.INFO, logger="dativo")
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    app = upstream_project(tmp_path / "app")
    (app / "data").mkdir()
    (app / "data" / "people.csv").write_text("id;name;score\n1;ann;1.5\n2;;2.0\n", encoding="utf-8")  # name required
    text = CSV_JOB.replace("{warehouse}", str(tmp_path / "lake")) + "    schema_validation_mode: warn\n" + (
        f"    retry_config: {retry}\n" if retry else "")
    loaded = load_job(job(app, "jobs/acme/people.yaml", text))
    with DagsterInstance.ephemeral() as instance:
        result = materialize([build_job_assets(loaded)], instance=instance, raise_on_error=False)
        assert result.success  # the last attempt is a partial materialization, not a failure
        assert len(result.get_asset_materialization_events()) == 1
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dativo"]
    assert sum(e["event_type"] == "job_started" for e in events) == starts
    finished = [e for e in events if e["event_type"] == "job_finished"]
    assert [e["status"] for e in finished] == ["partial"] * starts


@pytest.mark.parametrize("try_number, fails", [("1", True), ("2", True), ("3", False)])
def test_when_airflow_owns_retries_a_retryable_partial_fails_the_try_until_the_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, try_number: str, fails: bool) -> None:
    """Airflow retries the task (max_retries 2: tries 1..3): a retryable partial is a transient failure of every
    try but the last, which ends as a partial materialization."""
    from dativo_defs import tags

    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    app = upstream_project(tmp_path / "app")
    (app / "data").mkdir()
    (app / "data" / "people.csv").write_text("id;name;score\n1;ann;1.5\n2;;2.0\n", encoding="utf-8")
    text = CSV_JOB.replace("{warehouse}", str(tmp_path / "lake")) + "    schema_validation_mode: warn\n" \
        "    retry_config: {max_retries: 2, initial_delay_seconds: 0}\n"
    loaded = load_job(job(app, "jobs/acme/people.yaml", text))
    run_tags = {tags.RETRIES_OWNER: "airflow", "airflow/try_number": try_number}
    with DagsterInstance.ephemeral() as instance:
        result = materialize([build_job_assets(loaded)], instance=instance, raise_on_error=False, tags=run_tags)
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert result.success is not fails and len(failures) == int(fails)
        if fails:  # what airflow_bridge's runtime turns into a retried task error
            assert "transient failure: partial run (exit code 1)" in failures[0].event_specific_data.error.message
        starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
        assert len(starts) == 1  # Dagster itself does not retry when Airflow owns the retries
