"""Rules of the runner file."""

from __future__ import annotations

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.loader import load_project, load_runner
from dativo_defs.config.runner import OrchestratorType, RunnerMode


def _runner(write, schedules: str, body_prefix: str = "runner:\n  ", extra: str = "") -> object:
    text = f"{body_prefix}orchestrator:\n{extra}    schedules:\n{schedules}"
    return write("configs/runner.yaml", text)


def test_documented_and_bare_forms_load_the_same(write):
    documented = write("a/runner.yaml", """
        runner:
          mode: oneshot
          orchestrator:
            type: airflow
            concurrency_per_tenant: 2
            schedules:
              - {name: s1, config: j.yaml, cron: "0 * * * *"}
    """)
    bare = write("b/runner.yaml", """
        mode: oneshot
        orchestrator:
          type: airflow
          concurrency_per_tenant: 2
          schedules:
            - {name: s1, config: j.yaml, cron: "0 * * * *"}
    """)
    a, b = load_runner(documented), load_runner(bare)
    assert a == b
    assert a.mode is RunnerMode.ONESHOT and a.orchestrator.type is OrchestratorType.AIRFLOW
    assert a.orchestrator.concurrency_per_tenant == 2


def test_defaults(write):
    runner = load_runner(write("r.yaml", """
        runner:
          orchestrator:
            schedules:
              - {name: s1, config: j.yaml, interval_seconds: 5}
    """))
    s = runner.orchestrator.schedules[0]
    assert runner.mode is RunnerMode.ORCHESTRATED and runner.orchestrator.type is OrchestratorType.DAGSTER
    assert runner.orchestrator.concurrency_per_tenant == 1
    assert (s.enabled, s.timezone, s.max_concurrent_runs, s.tags, s.orchestrator) == (True, "UTC", 1, {}, None)
    assert runner.owner_of(s) is OrchestratorType.DAGSTER


def _error(write, schedule_yaml: str) -> ConfigError:
    path = write("r.yaml", "runner:\n  orchestrator:\n    schedules:\n" + schedule_yaml)
    with pytest.raises(ConfigError) as info:
        load_runner(path)
    return info.value


@pytest.mark.parametrize("entry, expected", [
    ('      - {name: s1, config: j.yaml}\n', "exactly one of `cron` or `interval_seconds`"),
    ('      - {name: s1, config: j.yaml, cron: "* * * * *", interval_seconds: 60}\n', "exactly one of"),
    ('      - {name: s1, config: j.yaml, cron: "61 * * * *"}\n', "invalid cron expression '61 * * * *'"),
    ('      - {name: s1, config: j.yaml, cron: "* * * *"}\n', "invalid cron expression"),
    ('      - {name: s1, config: j.yaml, cron: "@fortnightly"}\n', "invalid cron expression"),
    ('      - {name: s1, config: j.yaml, interval_seconds: 0}\n', "greater than or equal to 1"),
    ('      - {name: s1, config: j.yaml, cron: "0 * * * *", timezone: Mars/Olympus}\n', "unknown timezone 'Mars/Olympus'"),
    ('      - {name: s1, config: j.yaml, cron: "0 * * * *", max_concurrent_runs: 0}\n', "greater than or equal to 1"),
    ('      - {name: "drop table", config: j.yaml, cron: "0 * * * *"}\n', "not a safe name"),
    ('      - {name: "../etc", config: j.yaml, cron: "0 * * * *"}\n', "not a safe name"),
    ('      - {name: "a.b", config: j.yaml, cron: "0 * * * *"}\n', "not a safe name"),
    ('      - {name: config, config: j.yaml, cron: "0 * * * *"}\n', "reserved by Dagster"),
    ('      - {name: s1, config: j.yaml, cron: "0 * * * *", crn: x}\n', "unknown field 'crn'"),
    ('      - {name: s1, config: j.yaml, cron: "0 * * * *", orchestrator: prefect}\n', "'dagster' or 'airflow'"),
])
def test_schedule_rules(write, entry, expected):
    error = _error(write, entry)
    assert expected in str(error)
    issue = error.issues[0]
    assert issue.file.endswith("r.yaml") and issue.line == 4
    assert issue.field_path.startswith("runner.orchestrator.schedules[0]")


def test_duplicate_schedule_names(write):
    error = _error(write, '      - {name: s1, config: a.yaml, cron: "0 * * * *"}\n'
                          '      - {name: s1, config: b.yaml, interval_seconds: 9}\n')
    assert "duplicate schedule name 's1'" in str(error)


def test_unknown_top_level_field_suggests_the_right_one(write):
    path = write("r.yaml", """
        runner:
          orchestrator:
            concurency_per_tenant: 2
            schedules: []
    """)
    with pytest.raises(ConfigError) as info:
        load_runner(path)
    issue = info.value.issues[0]
    assert "unknown field 'concurency_per_tenant' (did you mean 'concurrency_per_tenant'?)" in issue.message
    assert issue.line == 3


def test_cron_aliases_are_normalised(write):
    runner = load_runner(write("r.yaml", """
        runner:
          orchestrator:
            schedules:
              - {name: s1, config: j.yaml, cron: "@daily", timezone: Europe/Berlin}
    """))
    assert runner.orchestrator.schedules[0].cron == "0 0 * * *"


def test_relative_and_absolute_job_paths_resolve_from_the_runner_file(write, valid_job_text, tmp_path):
    write("project/jobs/acme/a.yaml", valid_job_text)
    absolute = write("elsewhere/b.yaml", valid_job_text)
    runner = write("project/configs/runner.yaml", f"""
        runner:
          orchestrator:
            schedules:
              - {{name: rel, config: ../jobs/acme/a.yaml, cron: "0 * * * *"}}
              - {{name: abs, config: {absolute}, cron: "0 * * * *"}}
    """)
    project = load_project(runner)
    assert project.ok, project.issues
    files = {e.schedule.name: e.job.file for e in project.scheduled}
    assert files == {"rel": tmp_path / "project/jobs/acme/a.yaml", "abs": absolute}


def test_missing_job_file_names_the_runner_field(write):
    runner = write("configs/runner.yaml", """
        runner:
          orchestrator:
            schedules:
              - {name: gone, config: ../jobs/nope.yaml, cron: "0 * * * *"}
    """)
    project = load_project(runner)
    [issue] = project.issues
    assert issue.file.endswith("configs/runner.yaml") and issue.line == 4
    assert issue.field_path == "runner.orchestrator.schedules[0].config"
    assert "nope.yaml not found" in issue.message
    assert project.broken_schedules == ["gone"]


def test_per_schedule_owner_override(write, valid_job_text):
    write("j.yaml", valid_job_text)
    project = load_project(write("r.yaml", """
        runner:
          orchestrator:
            type: dagster
            schedules:
              - {name: a, config: j.yaml, cron: "0 * * * *"}
              - {name: b, config: j.yaml, cron: "0 * * * *", orchestrator: airflow}
    """))
    assert {e.schedule.name: e.owner.value for e in project.scheduled} == {"a": "dagster", "b": "airflow"}
