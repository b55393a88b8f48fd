"""`run_job`: the one entry point that Dagster assets, Airflow tasks and `dativo run` share.

For each stream of the job's source: read the state committed with the last run, stream batches through the
contract check, and hand them to the target, which commits data and new state atomically. Failures are
classified (transient / permanent) and reported in the RunResult; `run_job` itself does not retry — the
orchestrator does, per the job's retry_config (one retry loop, never two).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa

from ..config.contract import ColumnType
from ..config.job import SchemaValidationMode
from ..config.loader import Job
from ..config.paths import dativo_home
from ..config.targets import WriteMode
from .context import ObjectResult, RunContext, RunResult, RunStatus
from .contracts import ContractChecker, normalize
from .errors import ErrorKind, classify, describe
from .events import EventLog
from .memory import return_large_buffers
from .pipeline import read_ahead
from .sources import load_source
from .sources.base import CursorTracker, Source, Stream, cursor_of
from .targets import load_target
from .targets.base import Target, WriteRequest
from .upstream_compat import failure_kind, first_run_state, partial_retry, with_ingest_date


def run_job(job: Job, context: RunContext | None = None) -> RunResult:
    """Run `job` once. Never raises for data or config problems: the RunResult says what happened."""
    context = context or RunContext()
    return_large_buffers()
    cfg = job.config
    events = EventLog(cfg.tenant_id, job.name, cfg.source.type, cfg.target.type, context,
                      level=cfg.logging.level, redaction=cfg.logging.redaction)
    result = RunResult(cfg.tenant_id, job.name, context.run_id, RunStatus.SUCCESS, cfg.source.type, cfg.target.type)
    events.emit("job_started", objects=job.objects)
    if job.upstream is not None:  # upstream-format job: exit code 2 for any failure; settings not reproduced
        result.failure_exit_code = job.upstream.failure_exit_code
        events.emit("upstream_dialect", file=str(job.upstream.file), unhonoured=list(job.upstream.unhonoured))
    source: Source | None = None
    target: Target | None = None
    try:
        source = load_source(cfg.source, job.base_dir)
        target = load_target(cfg.target, cfg.tenant_id, job.name, dativo_home(), job.base_dir)
        for stream in source.streams():
            result.objects.append(_run_stream(job, source, target, stream, context, events))
    except Exception as exc:  # classified and reported; the orchestrator decides about retries
        native = classify(exc, cfg.retry_config.retryable_error_patterns)
        kind = failure_kind(job.upstream, native, describe(exc))  # upstream-format jobs: upstream's retry rule
        result.status, result.error, result.error_kind = RunStatus.FAILED, describe(exc), kind.value
        events.emit("job_failed", logging.ERROR, error=result.error, error_kind=kind.value,
                    duration_seconds=events.elapsed(), **({"native_kind": native.value} if job.upstream else {}))
    finally:
        for closable in (source, target):
            if closable is not None:
                closable.close()
    result.duration_seconds = events.elapsed()
    if result.status is not RunStatus.FAILED:
        if any(o.violations for o in result.objects):
            result.status = RunStatus.PARTIAL
            if retry := partial_retry(job.upstream, {o.object: o.violations for o in result.objects}):
                result.error, result.error_kind = retry, ErrorKind.TRANSIENT.value  # upstream retries exit code 1
        if cfg.data_catalog is not None:  # after the commits: a failed push is a warning, never a failed run
            from .catalog_push import push_tables

            push_tables(cfg.data_catalog, result.objects, job.contract, cfg.tenant_id, events, job.base_dir)
        events.emit("job_finished", status=result.status.value, rows=result.rows_written,
                    bytes=result.bytes_written, duration_seconds=result.duration_seconds)
    return result


def _run_stream(job: Job, source: Source, target: Target, stream: Stream, context: RunContext,
                events: EventLog) -> ObjectResult:
    started = time.monotonic()
    if not stream.primary_key and job.contract is not None and job.contract.primary_key:
        stream = replace(stream, primary_key=tuple(job.contract.primary_key))
    if job.contract is not None and (decimals := tuple(c.name for c in job.contract.columns
                                                       if c.type is ColumnType.DECIMAL)):
        stream = replace(stream, text_columns=decimals)  # a CSV number parsed as a double would be rounded
    if stream.primary_key and getattr(job.config.target, "mode", None) is WriteMode.MERGE:
        stream = replace(stream, upsert=True)  # re-read rows are upserted: a lookback window never narrows
    state = target.read_state(stream) or first_run_state(job.upstream, stream, events)
    outcome = ObjectResult(object=stream.object, table=target.table_name(stream), cursor_before=cursor_of(state))
    checker = None
    if job.contract is not None:
        checker = ContractChecker(job.contract, strict=job.config.schema_validation_mode is SchemaValidationMode.STRICT)
    tracker = CursorTracker(stream.cursor_field)
    first, batches = _peek(with_ingest_date(job.upstream, source.read(stream, state)))
    if first is None:
        events.emit("no_new_data", object=stream.object, cursor=outcome.cursor_before,
                    rows_already_landed=source.already_landed(stream))
        outcome.cursor_after = outcome.cursor_before
        return outcome
    schema = _output_schema(first, checker)
    widened = [schema]  # grows when a later batch brings new columns; the targets write every column

    def checked() -> Iterator[pa.RecordBatch]:
        for number, batch in enumerate(batches):
            outcome.rows_read += batch.num_rows
            tracker.update(batch)
            batch = checker.apply(batch) if checker else normalize(batch)
            if batch.schema != schema:
                batch = _conform(batch, widened)
            outcome.rows_written += batch.num_rows
            events.emit("batch_written", logging.DEBUG, object=stream.object, batch=number, rows=batch.num_rows,
                        bytes=batch.nbytes)
            yield batch

    new_state: dict = {}

    def final_state() -> dict | None:
        new_state["value"] = source.next_state(stream, state, tracker)
        return new_state["value"]

    commit = target.write(WriteRequest(stream, schema, read_ahead(checked()), final_state, context.run_id))
    outcome.snapshot_id, outcome.bytes_written, outcome.files_written = commit.snapshot_id, commit.bytes, commit.files
    outcome.cursor_after = cursor_of(new_state.get("value"))
    outcome.columns = [(f.name, str(f.type)) for f in widened[0]]
    if checker:
        outcome.violations, outcome.violation_samples = dict(checker.violations), checker.samples
        if checker.violations:
            events.emit("contract_violations", logging.WARNING, object=stream.object, violations=outcome.violations)
    if (cut := source.narrowed(stream)) is not None:
        events.emit("lookback_narrowed", logging.WARNING, object=stream.object, remembered_after=str(cut),
                    hint="the lookback window holds more rows than the state remembers: rows committed late at or "
                         "before this cursor value are not re-read; use target mode merge with a primary_key")
    events.emit("commit", object=stream.object, table=outcome.table, rows=outcome.rows_written,
                bytes=outcome.bytes_written, files=outcome.files_written, snapshot_id=outcome.snapshot_id,
                cursor_before=outcome.cursor_before, cursor_after=outcome.cursor_after,
                rows_already_landed=source.already_landed(stream),
                orphans_removed=commit.orphans_removed, duration_seconds=round(time.monotonic() - started, 3))
    return outcome


def _peek(batches: Iterator[pa.RecordBatch]) -> tuple[pa.RecordBatch | None, Iterator[pa.RecordBatch]]:
    """The first batch (for the schema) and an iterator that still yields it."""
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        return None, iter(())

    def chained() -> Iterator[pa.RecordBatch]:
        yield first
        yield from iterator

    return first, chained()


def _output_schema(first: pa.RecordBatch, checker: ContractChecker | None) -> pa.Schema:
    if checker is not None:
        return ContractChecker(checker.contract, strict=False).apply(first).schema
    return normalize(first).schema


def _conform(batch: pa.RecordBatch, widened: list[pa.Schema]) -> pa.RecordBatch:
    """Cast `batch` to the run's schema: missing columns become null, known columns keep their type, and new
    columns widen the schema (never dropped: no silent loss). `widened[0]` holds the current schema."""
    schema = widened[0]
    new = [f for f in batch.schema if f.name not in schema.names]
    if new:
        schema = widened[0] = pa.schema(list(schema) + [f.with_nullable(True) for f in new])
    arrays = [batch.column(f.name).cast(f.type) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
              for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
