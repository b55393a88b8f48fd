"""`dativo preview --config JOB`: the first rows of each object, through the contract, and the inferred schema.
Reads the source only; writes nothing (no table, no state, no catalog entry)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

EXIT_INVALID, EXIT_TRANSIENT = 2, 3


@click.command("preview")
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The job file to preview.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Rows per object.")
@click.option("--incremental", is_flag=True,
              help="Start after the job's committed cursor (what the next run would read), not at the beginning.")
def preview_command(job_file: Path, limit: int, incremental: bool) -> None:
    """Show the first rows of each object of a job, with the contract applied, and the inferred schema."""
    from .cli_upstream import load_job_or_exit
    from .console import wide_console
    from .engine.errors import classify, describe

    job = load_job_or_exit(job_file)
    console = wide_console()
    try:
        _preview(job, limit, incremental, console)
    except Exception as exc:  # noqa: BLE001 - classified like a run's failure, never a traceback
        kind = classify(exc)
        click.echo(f"{job.config.tenant_id}/{job.name}: {kind.value} error: {describe(exc)}", err=True)
        sys.exit(EXIT_TRANSIENT if kind.value == "transient" else EXIT_INVALID)


def _preview(job, limit: int, incremental: bool, console) -> None:
    import pyarrow as pa
    from rich.markup import escape
    from rich.table import Table

    from .config.contract import ColumnType
    from .engine.contracts import ContractChecker, normalize
    from .engine.sources import load_source
    from .engine.sources.base import cursor_of
    from .inspect_state import committed, open_target

    source = load_source(job.config.source, job.base_dir)
    target = open_target(job) if incremental else None
    decimals = tuple(c.name for c in job.contract.columns if c.type is ColumnType.DECIMAL) if job.contract else ()
    try:
        for stream in source.streams():
            if decimals:
                stream = replace(stream, text_columns=decimals)
            state = committed(target, stream).state if target is not None else None
            batches, rows = [], 0
            reader = source.read(stream, state)
            for batch in reader:
                batches.append(batch.slice(0, limit - rows))
                rows += batches[-1].num_rows
                if rows >= limit:
                    break
            close = getattr(reader, "close", None)
            if close:
                close()
            title = escape(stream.object + (f" (after cursor {cursor_of(state)})" if incremental and state else ""))
            if not batches:
                console.print(f"[bold]{title}[/]: no rows" + (" after the committed cursor" if incremental else ""))
                continue
            checker = ContractChecker(job.contract, strict=False) if job.contract else None
            data = pa.Table.from_batches([checker.apply(b) if checker else normalize(b) for b in batches])
            table = Table(title=f"{title}: first {data.num_rows} row(s)", title_justify="left")
            for name in data.column_names:
                table.add_column(escape(name), overflow="fold")
            for row in data.to_pylist():
                table.add_row(*("∅" if v is None else escape(str(v)) for v in row.values()))
            console.print(table)
            schema = Table(title=f"{stream.object}: schema", title_justify="left")
            for name in ("column", "type", "nullable"):
                schema.add_column(name)
            for field in data.schema:
                schema.add_row(escape(field.name), escape(str(field.type)), "yes" if field.nullable else "no")
            console.print(schema)
            if checker and checker.violations:
                console.print(f"[yellow]contract violations in these rows: {dict(checker.violations)}[/]")
    finally:
        source.close()
        if target is not None:
            target.close()
