"""One Dagster multi-asset per job: one asset per output table, materialized by the engine's `run_job`.

Retries follow the job's own curve — initial * multiplier**(n-1), capped by max_delay — through
`RetryRequested(seconds_to_wait=...)`; permanent engine errors raise `Failure(allow_retries=False)`.
The engine never retries by itself, so there is exactly one retry loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    RetryRequested,
    TableColumn,
    TableSchema,
    multi_asset,
)

from . import tags
from .config.loader import Job
from .contract import OpContract, RetryCurve, as_metadata
from .engine.context import ObjectResult, RunContext, RunResult, RunStatus


def asset_key(job: Job, obj: str) -> AssetKey:
    return AssetKey([job.tenant_id, job.name, obj])


def op_name(job: Job) -> str:
    return f"{job.tenant_id}__{job.name}"


def job_tags(job: Job) -> dict[str, str]:
    return {tags.TENANT: job.tenant_id, tags.JOB: job.name, tags.SOURCE: job.config.source.type}


def retry_policy(job: Job) -> RetryPolicy | None:
    """Dagster's RetryPolicy for errors raised outside `run_job` (e.g. a job file unreadable at run time).

    Only a constant curve can be declared exactly (Dagster's Backoff.EXPONENTIAL is delay * (2**n - 1), not
    initial * multiplier**(n-1)): with a multiplier or a cap below the first delay the declared policy would
    wait differently from the documented curve, so none is declared and such errors fail the step; transient
    engine failures are retried by RetryRequested with the exact curve (`_raise_for_failure`).
    """
    curve = RetryCurve.from_config(job.config.retry_config)
    if curve.max_retries == 0 or len(set(curve.waits())) != 1:
        return None
    return RetryPolicy(max_retries=curve.max_retries, delay=curve.wait_before_retry(1))


def op_contract_for(job: Job, pool_slots: int = 1) -> OpContract:
    """Everything the Airflow bridge needs about this job's op, as one typed value."""
    return OpContract(op_name=op_name(job), tenant_id=job.tenant_id, job=job.name, source=job.config.source.type,
                      job_file=str(job.file), asset_keys=tuple(tuple(asset_key(job, obj).path) for obj in job.objects),
                      pool=tags.tenant_pool(job.tenant_id), pool_slots=pool_slots,
                      retry=RetryCurve.from_config(job.config.retry_config), tags=job_tags(job))


def build_job_assets(job: Job, pool_slots: int = 1, dagster_retries: bool = True) -> AssetsDefinition:
    """`dagster_retries=False` (an Airflow task materializing in-process owns the retries): no RetryPolicy, and
    the run tag `dativo/retries_owner=airflow` turns RetryRequested off, so exactly one side retries."""
    cfg = job.config
    contract = job.contract
    owners = contract.all_owners() if contract else []
    seam = as_metadata(op_contract_for(job, pool_slots))
    specs = [
        AssetSpec(
            key=asset_key(job, obj), group_name=job.tenant_id, kinds={cfg.source.type, cfg.target.type},
            tags=job_tags(job), owners=owners or None,
            description=cfg.description or f"{cfg.source.type} → {cfg.target.type}: {obj} of tenant {job.tenant_id}",
            metadata={tags.JOB_FILE: str(job.file), **seam},
        )
        for obj in job.objects
    ]

    @multi_asset(
        name=op_name(job), specs=specs, pool=tags.tenant_pool(job.tenant_id),
        retry_policy=retry_policy(job) if dagster_retries else None,
        op_tags=job_tags(job),
    )
    def _materialize(context) -> Iterator[MaterializeResult]:  # no annotation: postponed annotations confuse dagster
        from .dagster_log import to_context_log
        from .engine.events import listening
        from .engine.runner import run_job  # imported at run time: keeps code-location loads light

        run_ids = {"dagster_run_id": context.run.run_id, **{k: v for k, v in context.run.tags.items()
                                                        if k.startswith("airflow/")}}
        with listening(to_context_log(context.log, job.config.logging.level)):  # events in the run's event log
            result = run_job(job, RunContext(caller="dagster", run_ids=run_ids))
        _raise_for_failure(context, job, result)
        for obj in result.objects:
            yield MaterializeResult(asset_key=asset_key(job, obj.object), metadata=materialization_metadata(result, obj))

    return _materialize


class TransientFailure(Exception):
    """The engine's transient error, as the cause of the RetryRequested that retries it."""


def _raise_for_failure(context: AssetExecutionContext, job: Job, result: RunResult) -> None:
    # a partial run is retried only in the upstream dialect, when upstream retries exit code 1 (the engine then
    # marks it transient); once no attempt is left it stays a partial materialization
    retry_partial = result.status is RunStatus.PARTIAL and result.error_kind == "transient"
    if result.status is not RunStatus.FAILED and not retry_partial:
        return
    retry = job.config.retry_config
    attempt = context.retry_number + 1
    dagster_retries = context.run.tags.get(tags.RETRIES_OWNER, "dagster") == "dagster"
    if retry_partial:
        tries = context.retry_number if dagster_retries else int(context.run.tags.get("airflow/try_number") or 1) - 1
        if tries >= retry.max_retries:
            return
        if not dagster_retries:  # Airflow owns the retries: a transient failure of this try
            raise Failure(description=f"transient failure: {result.error}", allow_retries=False)
    if dagster_retries and result.error_kind == "transient" and context.retry_number < retry.max_retries:
        wait = retry.delay_before_retry(attempt)
        context.log.warning(f"transient failure (attempt {attempt} of {retry.max_retries + 1}), retrying in {wait}s: "
                            f"{result.error}")
        # chained, so the UI's "up for retry" event shows the engine's message, not a bare RetryRequested
        raise RetryRequested(max_retries=retry.max_retries, seconds_to_wait=wait) from TransientFailure(
            f"transient failure: {result.error}")
    raise Failure(description=f"{result.error_kind} failure: {result.error}", allow_retries=False,
                  metadata={"error_kind": result.error_kind or "unknown", "run_id": result.run_id})


def materialization_metadata(result: RunResult, obj: ObjectResult) -> dict[str, Any]:
    """What the Dagster UI shows for one materialization (no secrets: RunResult carries none)."""
    return {
        "rows_read": obj.rows_read,
        "rows_written": obj.rows_written,
        "bytes_written": obj.bytes_written,
        "files_written": obj.files_written,
        "table": obj.table,
        "snapshot_id": MetadataValue.text(str(obj.snapshot_id)) if obj.snapshot_id else MetadataValue.text("none"),
        "cursor_before": MetadataValue.text(str(obj.cursor_before)),
        "cursor_after": MetadataValue.text(str(obj.cursor_after)),
        "duration_seconds": result.duration_seconds,
        "status": result.status.value,
        "engine_run_id": result.run_id,
        "contract_violations": MetadataValue.json(obj.violations),
        "dagster/column_schema": TableSchema(columns=[TableColumn(name, type_) for name, type_ in obj.columns]),
    }


def assets_for_job_file(job_file: Path, dagster_retries: bool = True) -> AssetsDefinition:
    """The Dagster assets of one job file (what an Airflow task materializes), without building the others."""
    from .config.loader import load_job, load_runner
    from .config.paths import runner_config_path

    runner = load_runner(runner_config_path())
    return build_job_assets(load_job(job_file), runner.orchestrator.concurrency_per_tenant, dagster_retries)
