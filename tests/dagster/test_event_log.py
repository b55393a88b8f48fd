"""Engine events reach the Dagster run's structured event log (context.log) at their levels."""

from __future__ import annotations

import logging

from dagster import DagsterInstance, materialize

from dativo_defs.assets import build_job_assets
from dativo_defs.config.loader import load_job


def _engine_logs(instance, run_id) -> list[tuple[int, str]]:
    return [(entry.level, entry.user_message) for entry in instance.all_logs(run_id)
            if entry.user_message.split(" ", 1)[0] in ("job_started", "commit", "job_finished", "contract_violations",
                                                       "batch_written", "no_new_data", "job_failed")]


def test_engine_events_are_in_the_runs_event_log_at_their_levels(write, dativo_home):
    write("data/a.csv", "id,name\n1,a\n2,b\nthree,c\n")
    job = load_job(write("jobs/t1/things.yaml", """
        tenant_id: t1
        source: {type: csv, files: [{path: ../../data/a.csv, object: things}]}
        target: {type: iceberg}
        schema_validation_mode: warn
        contract: {schema: [{name: id, type: long}, {name: name, type: string}]}
    """))  # warn mode with one bad id: a WARNING event for the violation
    with DagsterInstance.ephemeral() as instance:
        result = materialize([build_job_assets(job)], instance=instance, raise_on_error=False)
        assert result.success
        logs = _engine_logs(instance, result.run_id)
    kinds = [message.split(" ", 1)[0] for _, message in logs]
    assert kinds[0] == "job_started" and kinds[-1] == "job_finished" and "commit" in kinds
    assert kinds.count("commit") == 1  # each event once
    commit = next(message for _, message in logs if message.startswith("commit "))
    assert "object=things" in commit and "rows=3" in commit
    levels = dict((message.split(" ", 1)[0], level) for level, message in logs)
    assert levels["commit"] == logging.INFO
    assert levels.get("contract_violations") == logging.WARNING
    assert "batch_written" not in kinds  # DEBUG, below the job's logging.level (INFO)
