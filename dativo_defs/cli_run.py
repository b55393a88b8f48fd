"""How `dativo run` reports: --log-format console|json, --quiet, -v, and the run of one job with its sink."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from .console import ConsoleSink, JsonSink, LogFormat, default_format, threshold, wide_console


@dataclass(frozen=True)
class Output:
    log_format: LogFormat
    quiet: bool = False
    verbose: int = 0
    as_json: bool = False  # --json: the RunResult as a JSON line on stdout


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--log-format, --quiet and -v, collected into one `output: Output` argument (with --json)."""

    @functools.wraps(func)
    def collect(*args: Any, log_format: str | None, quiet: bool, verbose: int, as_json: bool, **kwargs: Any) -> Any:
        if quiet and verbose:
            raise click.UsageError("give at most one of --quiet and -v")
        fmt = LogFormat(log_format) if log_format else default_format()
        return func(*args, output=Output(fmt, quiet, verbose, as_json), **kwargs)

    for option in reversed((
        click.option("--json", "as_json", is_flag=True, help="Print each RunResult as a JSON line on stdout."),
        click.option("--log-format", type=click.Choice([f.value for f in LogFormat]), default=None,
                     help="console: live progress and a summary table; json: one JSON line per engine event "
                          "(default: console on a terminal, json otherwise)."),
        click.option("--quiet", "-q", is_flag=True, help="Only warnings, errors and the final line."),
        click.option("--verbose", "-v", count=True, help="Every engine event, debug ones included."),
    )):
        collect = option(collect)
    return collect


def run_and_report(job, output: Output) -> int:
    """Run `job` once with the chosen sink attached; print its result; return its exit code."""
    from .engine import events
    from .engine.context import CALLER_RUN_IDS_ENV, RunContext
    from .engine.runner import run_job

    # An orchestrator that runs `dativo run` as a child (airflow_bridge's subprocess mode) passes its run ids.
    caller_ids = json.loads(os.environ.get(CALLER_RUN_IDS_ENV, "{}"))
    context = RunContext(caller=caller_ids.pop("caller", "cli"), run_ids=caller_ids)
    level = threshold(output.quiet, output.verbose)
    console = None
    sink: ConsoleSink | JsonSink | None
    if output.log_format is LogFormat.CONSOLE:
        from rich.console import Console

        console = ConsoleSink(Console(stderr=True), level)
        sink = console
    elif level is not None:
        sink = JsonSink(level)
    else:  # json at the job's own level: the engine's own log lines, exactly as orchestrators receive them
        sink = None
    events.configure(lines=sink is None)
    if sink is None:
        result = run_job(job, context)
    else:
        with events.listening(sink):
            result = run_job(job, context)
    if output.as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
    elif console is not None:
        out = wide_console()
        if not output.quiet and result.objects:
            out.print(console.summary(result))
        out.print(console.final_line(result), highlight=False)
    else:
        for obj in result.objects:
            click.echo(f"  {obj.table}: {obj.rows_written} rows, {obj.files_written} files, snapshot {obj.snapshot_id}, "
                       f"cursor {obj.cursor_before} -> {obj.cursor_after}")
        click.echo(f"{job.tenant_id}/{job.name}: {result.status.value}, {result.rows_written} rows in "
                   f"{result.duration_seconds}s" + (f" — {result.error_kind} error: {result.error}" if result.error else ""))
    return result.exit_code
