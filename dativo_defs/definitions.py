"""The Dagster code location: `defs`, built from the runner file named by DATIVO_RUNNER_CONFIG.

Every job a schedule references, and every job the runner's `jobs` patterns match (manual runs only), is an
asset job. One broken job file does not take the location down: its schedule is left out and reported (log
line here, `dativo validate` for details) and shown as a stopped placeholder sensor carrying the error
(placeholders.py); the other jobs load.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dagster import Definitions, ScheduleDefinition, SensorDefinition

from .acceptance import accept
from .asset_jobs import define_job_asset_job
from .assets import asset_key, build_job_assets, job_tags
from .config.loader import Job, Project, load_project
from .config.paths import runner_config_path
from .placeholders import build_placeholders
from .schedules import build_trigger

log = logging.getLogger("dativo.definitions")


def build_definitions(project: Project) -> Definitions:
    accept(project)  # what Dagster would refuse is left out (and reported), never the whole location
    for issue in project.issues:
        log.error("dativo: %s (run `dativo validate` for all problems)", issue)
    jobs: dict[Path, Job] = {}
    for entry in project.scheduled:
        jobs.setdefault(entry.job.file, entry.job)
    for job in project.unscheduled:  # asset jobs without a trigger: run by hand (Airflow: a manual DAG)
        jobs.setdefault(job.file, job)
    assets, asset_jobs = [], {}
    for path, job in jobs.items():
        assets.append(build_job_assets(job, project.runner.orchestrator.concurrency_per_tenant if project.runner else 1))
        asset_jobs[path] = define_job_asset_job(
            job.asset_job_name, [asset_key(job, obj) for obj in job.objects], job_tags(job),
            f"Runs dativo job {job.tenant_id}/{job.name} ({job.file})",
        )
    triggers = [build_trigger(entry, asset_jobs[entry.job.file]) for entry in project.scheduled]
    taken = {t.name for t in triggers} | {j.name for j in asset_jobs.values()} | {job.op_name for job in jobs.values()}
    placeholders = build_placeholders(project, taken)  # broken entries, visible (stopped) with their error
    return Definitions(assets=assets, jobs=list(asset_jobs.values()),
                       schedules=[t for t in triggers if isinstance(t, ScheduleDefinition)],
                       sensors=[t for t in triggers if isinstance(t, SensorDefinition)] + placeholders)


def load_definitions(runner_file: Path | None = None) -> Definitions:
    return build_definitions(load_project(runner_config_path(runner_file)))


defs = load_definitions()
