"""`runner.jobs`: job files defined for manual runs besides the scheduled ones (paths or globs)."""

from __future__ import annotations

from dativo_defs.config.loader import load_project


def test_patterns_add_unscheduled_jobs_once(example_project):
    runner = example_project / "configs/runner.yaml"
    runner.write_text(runner.read_text().replace('jobs: ["../jobs/*/*.yaml"]',
                                                 'jobs: ["../jobs/*/*.yaml", ../jobs/acme/orders_rebuild.yaml]'))
    project = load_project(runner)
    assert project.ok, project.issues
    assert [job.name for job in project.unscheduled] == ["orders_rebuild"]  # scheduled jobs are not repeated
    assert len(project.scheduled) == 6


def test_a_pattern_matching_nothing_is_reported_at_its_entry(example_project):
    runner = example_project / "configs/runner.yaml"
    runner.write_text(runner.read_text().replace('jobs: ["../jobs/*/*.yaml"]', 'jobs: ["../job/*/*.yaml"]'))
    project = load_project(runner)
    [issue] = project.issues
    assert issue.file == str(runner) and issue.field_path == "runner.jobs[0]" and "matches no job file" in issue.message
    assert issue.line == 5 and len(project.scheduled) == 6


def test_a_broken_unscheduled_job_is_reported_and_the_rest_loads(example_project):
    broken = example_project / "jobs/acme/orders_rebuild.yaml"
    broken.write_text(broken.read_text().replace("mode: overwrite", "mode: replace"))
    project = load_project(example_project / "configs/runner.yaml")
    [issue] = project.issues
    assert issue.file == str(broken) and issue.field_path == "target.mode" and "'replace'" in issue.message
    assert project.unscheduled == [] and len(project.scheduled) == 6 and project.broken_schedules == []
