"""`dativo show TENANT.TABLE` / `dativo show --config JOB`: what a table holds and where its jobs stand.

Row count, schema, recent snapshots, and per job the committed cursor and the last run that committed, read
from the Iceberg catalog (the `dativo.state.<tenant>/<job>` table properties) or the Parquet commit log
(`_dativo/commits/<seq>.json`). Reads only."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .console import wide_console

if TYPE_CHECKING:  # rich is imported when `dativo show` runs, not with the command line
    from rich.console import Console
    from rich.table import Table

EXIT_INVALID, EXIT_TRANSIENT = 2, 3
RECENT_SNAPSHOTS = 5


@click.command("show")
@click.argument("table_name", required=False, metavar="TENANT.TABLE")
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Show every table of this job instead.")
@click.option("--runner-config", "runner_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Runner file whose jobs name the table's catalog (default: $DATIVO_RUNNER_CONFIG or "
                   "configs/runner.yaml; without one, the embedded catalog).")
def show_command(table_name: str | None, job_file: Path | None, runner_config: Path | None) -> None:
    """Row count, schema, recent snapshots, and each job's committed cursor and last run."""
    from .cli_upstream import load_job_or_exit
    from .engine.errors import classify, describe

    if (table_name is None) == (job_file is None):
        raise click.UsageError("give exactly one of TENANT.TABLE or --config JOB")
    console = wide_console()
    try:
        if job_file is not None:
            _show_job(load_job_or_exit(job_file), console)
        elif table_name is not None:
            _show_named(table_name, runner_config, console)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - classified like a run's failure, never a traceback
        kind = classify(exc)
        click.echo(f"show: {kind.value} error: {describe(exc)}", err=True)
        sys.exit(EXIT_TRANSIENT if kind.value == "transient" else EXIT_INVALID)


def _show_job(job, console: Console) -> None:
    from .engine.sources.base import Stream
    from .engine.targets.iceberg import IcebergTarget
    from .inspect_state import open_target

    target = open_target(job)
    try:
        for obj in job.objects:
            if isinstance(target, IcebergTarget):
                _show_iceberg(target.catalog, target.table_name(Stream(obj)), console, only_job=target.job_key)
            else:
                _show_parquet(target, Stream(obj), console)
    finally:
        target.close()


def _show_named(name: str, runner_config: Path | None, console: Console) -> None:
    """The table's catalog from the first job of the runner project that writes it, else the embedded one."""
    from .cli import select_runner
    from .config.loader import load_project
    from .config.paths import dativo_home
    from .config.targets import IcebergTarget
    from .engine.sources.base import Stream
    from .engine.targets.iceberg import IcebergTarget as IcebergTable
    from .engine.targets.iceberg import _load_catalog, catalog_properties
    from .inspect_state import open_target

    if name.count(".") < 1:
        raise click.UsageError(f"{name!r}: expected TENANT.TABLE (the Iceberg namespace and table)")
    runner = select_runner(runner_config)
    jobs = []
    if runner.exists():
        project = load_project(runner)
        jobs = list(({e.job.file: e.job for e in project.scheduled} | {j.file: j for j in project.unscheduled}).values())
    for job in jobs:
        if job.config.target.type != "iceberg":
            continue
        target = open_target(job)
        try:
            if isinstance(target, IcebergTable) and any(target.table_name(Stream(obj)) == name for obj in job.objects):
                _show_iceberg(target.catalog, name, console)
                return
        finally:
            target.close()
    catalog_name, props = catalog_properties(IcebergTarget(type="iceberg"), dativo_home(), Path.cwd())
    _show_iceberg(_load_catalog(catalog_name, props), name, console)


def _show_iceberg(catalog, name: str, console: Console, only_job: str | None = None) -> None:
    from pyiceberg.exceptions import NoSuchTableError
    from rich.markup import escape
    from rich.table import Table

    from .engine.targets.base import RUN_ID_KEY
    from .engine.targets.iceberg_state import PROPERTY_PREFIX

    try:
        table = catalog.load_table(name)
    except NoSuchTableError:
        console.print(f"[bold]{escape(name)}[/]: no such table yet (no run has committed to it)")
        if only_job is None:
            sys.exit(EXIT_INVALID)
        return
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot is not None and snapshot.summary is not None else None
    rows = int(summary["total-records"] or 0) if summary else 0
    files = int(summary["total-data-files"] or 0) if summary else 0
    size = int(summary["total-files-size"] or 0) if summary else 0
    console.print(f"[bold]{escape(name)}[/]: {rows:,} rows in {files} data file(s), {size:,} bytes — "
                  f"{escape(table.metadata.location)}", highlight=False)
    console.print(_schema_table(name, [(f.name, str(f.field_type), "no" if f.required else "yes")
                                       for f in table.schema().fields]))
    by_run = {}
    recent = Table(title=f"{name}: recent snapshots", title_justify="left")
    for column in ("snapshot", "committed at (UTC)", "operation", "rows added", "run"):
        recent.add_column(column)
    for snap in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True):
        run_id = snap.summary[RUN_ID_KEY] if snap.summary is not None else None
        if run_id and run_id not in by_run:
            by_run[run_id] = snap
        if recent.row_count < RECENT_SNAPSHOTS:
            recent.add_row(str(snap.snapshot_id), _when(snap.timestamp_ms),
                           snap.summary.operation.value if snap.summary else "-",
                           snap.summary["added-records"] or "0" if snap.summary else "-", escape(run_id or "-"))
    console.print(recent)
    jobs = Table(title=f"{name}: jobs", title_justify="left")
    for column in ("job", "committed cursor", "last run", "committed at (UTC)", "rows"):
        jobs.add_column(column)
    for key, raw in sorted(table.metadata.properties.items()):
        if not key.startswith(PROPERTY_PREFIX) or (only_job and key != PROPERTY_PREFIX + only_job):
            continue
        value = json.loads(raw)
        run_id, snap = value.get("run_id"), by_run.get(value.get("run_id"))
        jobs.add_row(escape(key[len(PROPERTY_PREFIX):]), escape(_cursor_text(value.get("state"))), escape(run_id or "-"),
                     _when(snap.timestamp_ms) if snap else "-",
                     (snap.summary["added-records"] or "0") if snap and snap.summary else "-")
    console.print(jobs if jobs.row_count else "no job state recorded on this table")


def _show_parquet(target, stream, console: Console) -> None:
    import pyarrow.dataset as ds
    from rich.markup import escape
    from rich.table import Table

    from .inspect_state import _commit_entries

    base, _, _ = target._dirs(stream)
    name = target.table_name(stream)
    if not target.fs.exists(base):
        console.print(f"[bold]{escape(name)}[/]: no such dataset yet (no run has committed to it)")
        return
    dataset = ds.dataset(base, filesystem=target.arrow_fs, format="parquet")  # skips _staging and _dativo
    console.print(f"[bold]{escape(name)}[/]: {dataset.count_rows():,} rows in {len(dataset.files)} file(s)",
                  highlight=False)
    console.print(_schema_table(name, [(f.name, str(f.type), "yes" if f.nullable else "no") for f in dataset.schema]))
    commits = Table(title=f"{name}: recent commits (_dativo/commits)", title_justify="left")
    for column in ("seq", "committed at (UTC)", "job", "rows", "run", "committed cursor"):
        commits.add_column(column)
    for path in list(reversed(_commit_entries(target, stream)))[:RECENT_SNAPSHOTS]:
        entry = json.loads(target.fs.cat_file(path))
        modified = target.fs.info(path).get("mtime") or target.fs.info(path).get("LastModified")
        when = _when(modified.timestamp() * 1000 if hasattr(modified, "timestamp") else float(modified) * 1000) \
            if modified else "-"
        commits.add_row(path.rsplit("/", 1)[-1].removesuffix(".json"), when, escape(entry["job"]),
                        str(entry.get("rows", "-")), escape(entry.get("run_id", "-")),
                        escape(_cursor_text(entry.get("state"))))
    console.print(commits)


def _schema_table(name: str, fields: list[tuple[str, str, str]]) -> Table:
    from rich.markup import escape
    from rich.table import Table

    schema = Table(title=f"{name}: schema", title_justify="left")
    for column in ("column", "type", "nullable"):
        schema.add_column(column)
    for field in fields:
        schema.add_row(*(escape(part) for part in field))
    return schema


def _cursor_text(state) -> str:
    """The committed cursor value; file sources without a cursor column remember the set of landed files."""
    from .engine.sources.base import cursor_of

    if not state:
        return "-"
    cursor = cursor_of(state)
    if cursor is not None:
        return str(cursor)
    return "landed-file set" if "files" in state else json.dumps(state, default=str)[:80]


def _when(timestamp_ms: float) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
