"""Schedules (cron) and interval sensors from the runner file, with ownership and per-schedule run limits.

Every attribute a schedule has in YAML is present on the Dagster object (the Airflow bridge reads them
from here): cron, timezone, enabled/owner via default status, max_concurrent_runs and interval as tags.
"""

from __future__ import annotations

from dagster import (DefaultScheduleStatus, DefaultSensorStatus, RunRequest, RunsFilter, ScheduleDefinition,
                     ScheduleEvaluationContext, SensorDefinition, SensorEvaluationContext, SkipReason)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRunStatus
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from . import tags
from .config.loader import ScheduledJob
from .config.runner import OrchestratorType

ACTIVE_STATUSES = [*IN_PROGRESS_RUN_STATUSES, DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]


def run_tags(entry: ScheduledJob) -> dict[str, str]:
    """Tags on every run of this schedule (the tenant tag drives the per-tenant run limit)."""
    job = entry.job
    return {**entry.schedule.tags, tags.TENANT: job.tenant_id, tags.JOB: job.name, tags.SCHEDULE: entry.schedule.name}


def paused_reason(entry: ScheduledJob) -> str | None:
    """Why Dagster must not fire this schedule, or None when it runs here."""
    if not entry.schedule.enabled:  # first: a disabled schedule must stay paused on every orchestrator
        return "disabled in the runner file (enabled: false)"
    if entry.owner is not OrchestratorType.DAGSTER:
        return f"owned by {entry.owner.value}: defined here but stopped, so it never runs twice"
    return None


def _describe(entry: ScheduledJob) -> str:
    s = entry.schedule
    cadence = f"cron '{s.cron}' in {s.timezone}" if s.cron else f"every {s.interval_seconds}s"
    reason = paused_reason(entry)
    return (f"{entry.job.tenant_id}/{entry.job.name}: {cadence}, at most {s.max_concurrent_runs} run(s) at once"
            + (f". Stopped: {reason}" if reason else ""))


def _request(entry: ScheduledJob, instance, key: str | None = None) -> RunRequest | SkipReason:
    limit = entry.schedule.max_concurrent_runs
    active = instance.get_runs_count(RunsFilter(tags={tags.SCHEDULE: entry.schedule.name}, statuses=ACTIVE_STATUSES))
    if active >= limit:
        return SkipReason(f"{active} run(s) of {entry.schedule.name} in progress; max_concurrent_runs is {limit}")
    return RunRequest(run_key=key, tags=run_tags(entry))


def build_trigger(entry: ScheduledJob, job: UnresolvedAssetJobDefinition) -> ScheduleDefinition | SensorDefinition:
    s = entry.schedule
    running = paused_reason(entry) is None
    metadata = {tags.OWNER: entry.owner.value, tags.MAX_CONCURRENT_RUNS: s.max_concurrent_runs,
                tags.JOB_FILE: str(entry.job.file), tags.PAUSED_REASON: paused_reason(entry) or ""}
    if s.cron:
        def evaluate_schedule(context: ScheduleEvaluationContext):
            return _request(entry, context.instance)

        return ScheduleDefinition(
            name=s.name, cron_schedule=s.cron, execution_timezone=s.timezone, job=job, execution_fn=evaluate_schedule,
            default_status=DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED,
            description=_describe(entry), tags=run_tags(entry), metadata=metadata,
        )

    def evaluate_sensor(context: SensorEvaluationContext):
        return _request(entry, context.instance)

    return SensorDefinition(
        name=s.name, evaluation_fn=evaluate_sensor, minimum_interval_seconds=s.interval_seconds, job=job,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=_describe(entry), tags=run_tags(entry),
        metadata={**metadata, tags.INTERVAL_SECONDS: s.interval_seconds},
    )
