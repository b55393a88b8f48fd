"""Compile dativo_defs' Dagster Definitions into a Manifest (the neutral graph the renderer turns into DAGs).

Everything comes from the Dagster objects — schedules, sensors, asset jobs, asset ops with their tags,
retry policies and pools — never from the YAML, so Dagster stays the single source of truth.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, Definitions

from dativo_defs import tags
from dativo_defs.config.loader import Project, absolute_job_pattern

from .manifest import DagSpec, Manifest, TaskSpec, fingerprint, referenced_variables


def metadata_value(definition, key: str, default=None):
    """A plain value from a Dagster schedule's/sensor's metadata (unwraps Text/Int metadata values)."""
    value = definition.metadata.get(key)
    return default if value is None else getattr(value, "value", getattr(value, "text", value))


def _tasks(defs: Definitions, job) -> list[TaskSpec]:
    graph = defs.resolve_asset_graph()
    keys: set[AssetKey] = job.selection.resolve(graph)
    by_op: dict[str, TaskSpec] = {}
    for key in sorted(keys, key=lambda k: k.path):
        assets_def = defs.resolve_assets_def(key)
        op = assets_def.node_def
        if op.name in by_op:
            by_op[op.name].asset_keys.append(list(key.path))
            continue
        policy, op_tags = op.retry_policy, op.tags
        by_op[op.name] = TaskSpec(
            task_id=op.name, job_file=op_tags[tags.JOB_FILE], tenant_id=op_tags[tags.TENANT], job=op_tags[tags.JOB],
            source=op_tags[tags.SOURCE],
            asset_keys=[list(key.path)], pool=op.pool or "default_pool", pool_slots=int(op_tags.get(tags.POOL_SLOTS, 1)),
            retries=policy.max_retries if policy else 0,
            retry_delay_seconds=float(policy.delay or 0) if policy else 0.0,
            backoff_multiplier=float(op_tags.get(tags.RETRY_MULTIPLIER, 1.0)),
            max_retry_delay_seconds=float(op_tags.get(tags.RETRY_MAX_DELAY, 0.0)),
            upstream=sorted({defs.resolve_assets_def(dep).node_def.name for dep in assets_def.asset_deps.get(key, ())
                             if dep in keys and defs.resolve_assets_def(dep).node_def.name != op.name}),
        )
    return list(by_op.values())


def compile_manifest(defs: Definitions, project: Project) -> Manifest:
    dags: list[DagSpec] = []
    scheduled_jobs: set[str] = set()
    for schedule in defs.schedules:
        scheduled_jobs.add(schedule.job.name)
        dags.append(_dag(defs, schedule, "cron", cron=schedule.cron_schedule,
                         timezone=schedule.execution_timezone or "UTC"))
    for sensor in defs.sensors:
        scheduled_jobs.add(sensor.job.name)
        dags.append(_dag(defs, sensor, "interval", interval_seconds=sensor.minimum_interval_seconds))
    for job in defs.jobs:
        if job.name not in scheduled_jobs:
            dags.append(DagSpec(dag_id=job.name, kind="manual", description=job.description or job.name, paused=False,
                                paused_reason="", max_active_runs=1, tags=dict(job.tags or {}), tasks=_tasks(defs, job)))
    inputs = _inputs(project)
    variables = referenced_variables(inputs)
    patterns = _job_patterns(project)
    return Manifest(fingerprint=fingerprint(inputs, variables, patterns), inputs=inputs, variables=variables,
                    dags=sorted(dags, key=lambda d: d.dag_id), issues=[str(i) for i in project.issues],
                    job_patterns=patterns)


def _dag(defs: Definitions, trigger, kind: str, **cadence) -> DagSpec:
    owner = metadata_value(trigger, tags.OWNER, "dagster")
    reason = metadata_value(trigger, tags.PAUSED_REASON, "") or ""
    # In Airflow the schedule runs when Airflow owns it and it is enabled; Dagster's STOPPED reason tells why not.
    enabled_here = owner == "airflow" and not reason.startswith("disabled")
    airflow_reason = "" if enabled_here else (reason if reason.startswith("disabled") else "owned by dagster: defined "
                                              "here but paused, so it never runs twice")
    return DagSpec(dag_id=trigger.name, kind=kind, description=(trigger.description or trigger.name).split(". Stopped:")[0],
                   paused=not enabled_here, paused_reason=airflow_reason,
                   max_active_runs=int(metadata_value(trigger, tags.MAX_CONCURRENT_RUNS, 1)), tags=dict(trigger.tags or {}),
                   tasks=_tasks(defs, trigger.job), owner=owner, **cadence)


def _inputs(project: Project) -> list[str]:
    files = {str(project.runner_file)} | {str(path) for path in project.read_files}  # missing ones too
    for job in [entry.job for entry in project.scheduled] + project.unscheduled:
        files.add(str(job.file))
        contract = job.config.contract
        if isinstance(contract, str):
            files.add(str((Path(job.file).parent / contract).resolve()))
    for issue in project.issues:
        files.add(issue.file)
    return sorted(files)


def _job_patterns(project: Project) -> list[str]:
    """The runner's `jobs` entries as absolute patterns, so the manifest sees job files being added or removed."""
    if project.runner is None:
        return []
    return [str(absolute_job_pattern(pattern, Path(project.runner_file))) for pattern in project.runner.jobs]
