"""Schedules (cron) and interval sensors from the runner file, with ownership and per-schedule run limits.

Every attribute a schedule has in YAML is on the Dagster object as one typed value, the TriggerContract
(`dativo/contract` metadata, see contract.py), which the Airflow bridge reads. Interval sensors run at the
effective interval (rounded up to Dagster's sensor granularity), the same cadence Airflow gets.
"""

from __future__ import annotations

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRunStatus

from . import tags
from .config.loader import ScheduledJob
from .config.runner import OrchestratorType
from .contract import TriggerContract, as_metadata, explain_reason

ACTIVE_STATUSES = [*IN_PROGRESS_RUN_STATUSES, DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]


def run_tags(entry: ScheduledJob) -> dict[str, str]:
    """Tags on every run of this schedule (the tenant tag drives the per-tenant run limit)."""
    job = entry.job
    return {**entry.schedule.tags, tags.TENANT: job.tenant_id, tags.JOB: job.name, tags.SCHEDULE: entry.schedule.name}


def trigger_contract_for(entry: ScheduledJob) -> TriggerContract:
    s = entry.schedule
    cadence = f"cron '{s.cron}' in {s.timezone}" if s.cron else f"every {s.effective_interval_seconds}s"
    return TriggerContract(
        name=s.name, kind="cron" if s.cron else "interval", cron=s.cron, timezone=s.timezone,
        interval_seconds=s.interval_seconds, effective_interval_seconds=s.effective_interval_seconds,
        owner=entry.owner, enabled=s.enabled, max_concurrent_runs=s.max_concurrent_runs, tags=run_tags(entry),
        job_file=str(entry.job.file),
        description=f"{entry.job.tenant_id}/{entry.job.name}: {cadence}, at most {s.max_concurrent_runs} run(s) at once",
    )


def _describe(contract: TriggerContract) -> str:
    reason = contract.paused_reason(OrchestratorType.DAGSTER)
    return contract.description + (f". Stopped: {explain_reason(reason, contract)}" if reason else "")


def _request(entry: ScheduledJob, instance, key: str | None = None) -> RunRequest | SkipReason:
    limit = entry.schedule.max_concurrent_runs
    active = instance.get_runs_count(RunsFilter(tags={tags.SCHEDULE: entry.schedule.name}, statuses=ACTIVE_STATUSES))
    if active >= limit:
        return SkipReason(f"{active} run(s) of {entry.schedule.name} in progress; max_concurrent_runs is {limit}")
    return RunRequest(run_key=key, tags=run_tags(entry))


def build_trigger(entry: ScheduledJob, job: UnresolvedAssetJobDefinition) -> ScheduleDefinition | SensorDefinition:
    contract = trigger_contract_for(entry)
    running = contract.runs_on(OrchestratorType.DAGSTER)
    metadata = as_metadata(contract)
    if contract.kind == "cron":
        def evaluate_schedule(context: ScheduleEvaluationContext):
            return _request(entry, context.instance)

        return ScheduleDefinition(
            name=contract.name, cron_schedule=contract.cron, execution_timezone=contract.timezone, job=job,
            execution_fn=evaluate_schedule,
            default_status=DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED,
            description=_describe(contract), tags=run_tags(entry), metadata=metadata,
        )

    def evaluate_sensor(context: SensorEvaluationContext):
        return _request(entry, context.instance)

    return SensorDefinition(
        name=contract.name, evaluation_fn=evaluate_sensor, minimum_interval_seconds=contract.effective_interval_seconds,
        job=job, default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=_describe(contract), tags=run_tags(entry), metadata=metadata,
    )
