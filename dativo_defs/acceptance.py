"""The acceptance rule, Dagster's half: a loaded project is checked with Dagster's own validators (names, strict
tags, cron) before any definition is built, so what `dativo validate` accepts is what the code location loads.

The config layer already refuses everything these catch, with field-level messages (it may not import an
orchestrator, and Airflow's limits are reproduced there: see dativo_defs/config/base.py). This is the backstop
that keeps the two from drifting: a job Dagster would refuse is reported and left out here, never taking the
location (or the Airflow dags file, which compiles from these definitions) down with it.
"""

from __future__ import annotations

from dagster._core.definitions.utils import is_valid_name
from dagster._core.errors import DagsterInvalidDefinitionError
from dagster._utils.schedules import is_valid_cron_schedule
from dagster._utils.tags import normalize_tags

from .assets import asset_key, job_tags
from .config.errors import ConfigIssue
from .config.loader import BrokenEntry, Job, Project


def _job_problem(job: Job) -> str | None:
    names = [("op name", job.op_name), ("job name", job.asset_job_name)]
    names += [("output name", asset_key(job, obj).to_python_identifier()) for obj in job.objects]
    for label, name in names:
        if not is_valid_name(name):
            return f"Dagster refuses the {label} {name!r}"
    try:
        normalize_tags(job_tags(job), strict=True)  # the tags on every asset spec of the job
    except DagsterInvalidDefinitionError as exc:
        return f"Dagster refuses the job's asset tags: {exc}"
    return None


def accept(project: Project) -> Project:
    """Move every schedule and manual job Dagster would refuse into `project.issues` (in place; returns it).
    Idempotent: a second call finds nothing more."""
    refused: dict[object, ConfigIssue] = {}
    for job in {id(j): j for j in [e.job for e in project.scheduled] + project.unscheduled}.values():
        problem = _job_problem(job)
        if problem:
            refused[job.file] = ConfigIssue(str(job.file), f"{problem}; the job is left out")
            project.issues.append(refused[job.file])
    project.broken += [BrokenEntry(job.file.stem, "job", (refused[job.file],))
                       for job in project.unscheduled if job.file in refused]
    project.unscheduled = [job for job in project.unscheduled if job.file not in refused]
    for entry in list(project.scheduled):
        schedule = entry.schedule
        if entry.job.file in refused:
            project.scheduled.remove(entry)
            project.broken.append(BrokenEntry(schedule.name, "schedule", (refused[entry.job.file],)))
        elif not is_valid_name(schedule.name):
            project.set_aside(entry, ConfigIssue(str(project.runner_file), f"Dagster refuses the schedule name "
                                                 f"{schedule.name!r}; the schedule is left out"))
        elif schedule.cron and not is_valid_cron_schedule(schedule.cron):
            project.set_aside(entry, ConfigIssue(str(project.runner_file), f"Dagster refuses the cron expression "
                                                 f"{schedule.cron!r} of schedule {schedule.name!r}; it is left out"))
    return project
