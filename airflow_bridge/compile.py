"""Compile dativo_defs' Dagster Definitions into a Manifest (the neutral graph the renderer turns into DAGs).

Everything comes from the Dagster objects — schedules, sensors and asset ops, each carrying its typed contract
(dativo_defs.contract) as one metadata value — never from the YAML, so Dagster stays the single source of truth.
No human-readable text is read here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetKey, Definitions

from dativo_defs.config.loader import Project, absolute_job_pattern
from dativo_defs.config.runner import OrchestratorType
from dativo_defs.contract import InvalidEntryContract, invalid_contract, op_contract, trigger_contract

from .manifest import DagSpec, Manifest, TaskSpec, take_stamp


def _tasks(defs: Definitions, job) -> list[TaskSpec]:
    graph = defs.resolve_asset_graph()
    keys: set[AssetKey] = job.selection.resolve(graph)
    by_op: dict[str, TaskSpec] = {}
    for key in sorted(keys, key=lambda k: tuple(k.path)):
        assets_def = defs.resolve_assets_def(key)
        op = assets_def.node_def
        if op.name in by_op:
            continue
        contract = op_contract(assets_def)
        retry = contract.retry
        by_op[op.name] = TaskSpec(
            task_id=contract.op_name, job_file=contract.job_file, tenant_id=contract.tenant_id, job=contract.job,
            source=contract.source, asset_keys=[list(k) for k in contract.asset_keys if AssetKey(list(k)) in keys],
            pool=contract.pool, pool_slots=contract.pool_slots, retries=retry.max_retries,
            retry_delay_seconds=retry.initial_delay_seconds, backoff_multiplier=retry.backoff_multiplier,
            max_retry_delay_seconds=retry.max_delay_seconds, retryable_exit_codes=list(retry.retryable_exit_codes),
            upstream=sorted({defs.resolve_assets_def(dep).node_def.name for dep in assets_def.asset_deps.get(key, ())
                             if dep in keys and defs.resolve_assets_def(dep).node_def.name != op.name}),
        )
    return list(by_op.values())


def compile_manifest(defs: Definitions, project: Project) -> Manifest:
    dags: list[DagSpec] = []
    scheduled_jobs: set[str] = set()
    for trigger in [*(defs.schedules or []), *(defs.sensors or [])]:
        scheduled_jobs.add(trigger.job.name)
        invalid = invalid_contract(trigger)
        dags.append(_dag(defs, trigger) if invalid is None else _invalid_dag(invalid))
    for job in defs.jobs or []:
        if job.name not in scheduled_jobs:
            dags.append(DagSpec(dag_id=job.name, kind="manual", description=job.description or job.name, paused=False,
                                paused_reason="", max_active_runs=1, tags=dict(job.tags or {}), tasks=_tasks(defs, job)))
    return Manifest(stamp=take_stamp(_inputs(project), _job_patterns(project)),
                    dags=sorted(dags, key=lambda d: d.dag_id), issues=[str(i) for i in project.issues],
                    compiled_at=datetime.now(UTC).isoformat(timespec="seconds"))


def _dag(defs: Definitions, trigger) -> DagSpec:
    contract = trigger_contract(trigger)
    reason = contract.paused_reason(OrchestratorType.AIRFLOW)
    return DagSpec(dag_id=contract.name, kind=contract.kind, description=contract.description,
                   paused=reason is not None, paused_reason=reason.value if reason else "",
                   max_active_runs=contract.max_concurrent_runs, tags=dict(contract.tags), tasks=_tasks(defs, trigger.job),
                   owner=contract.owner.value, cron=contract.cron, timezone=contract.timezone,
                   interval_seconds=contract.effective_interval_seconds,
                   configured_interval_seconds=contract.interval_seconds)


def _invalid_dag(contract: InvalidEntryContract) -> DagSpec:
    """A broken runner entry: a paused placeholder DAG showing the error (render.py), never running work."""
    return DagSpec(dag_id=contract.name, kind="invalid", description=contract.summary, paused=True,
                   paused_reason="invalid", max_active_runs=1, tags={}, tasks=[], error=contract.error_text(),
                   headline=contract.headline, issues=[str(issue) for issue in contract.issues], hint=contract.hint)


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
