"""The `dativo` command line. User errors print file, field and line and exit 2 — never a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .config.paths import RUNNER_CONFIG_ENV, runner_config_path

EXIT_INVALID = 2

runner_option = click.option(
    "--runner-config", "runner_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"Runner file (default: ${RUNNER_CONFIG_ENV} or configs/runner.yaml).",
)


def select_runner(path: Path | None) -> Path:
    """Resolve the runner file and export it, so every later lookup (jobs, DATIVO_HOME) agrees."""
    resolved = runner_config_path(path)
    os.environ[RUNNER_CONFIG_ENV] = str(resolved)
    return resolved


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dativo: config-driven ingestion into Iceberg, orchestrated by Dagster or Airflow."""


@main.command()
@runner_option
def validate(runner_config: Path | None) -> None:
    """Validate the runner file and every job it references; print the schedules."""
    from .config.loader import load_project
    from .config.report import schedule_table

    project = load_project(select_runner(runner_config))
    if project.scheduled:
        click.echo(schedule_table(project))
    for entry in project.scheduled:
        warning = entry.schedule.cadence_warning()
        if warning:
            click.echo(f"WARNING {project.runner_file}: schedule {entry.schedule.name!r}: {warning}", err=True)
    _print_issues(project.issues)
    if not project.ok:
        broken = f" ({len(project.broken_schedules)} schedule(s) not loaded: {', '.join(project.broken_schedules)})" \
            if project.broken_schedules else ""
        click.echo(f"{len(project.issues)} problem(s) found{broken}.", err=True)
        sys.exit(EXIT_INVALID)
    manual = f" and {len(project.unscheduled)} job(s) for manual runs" if project.unscheduled else ""
    click.echo(f"OK: {len(project.scheduled)} schedule(s){manual} valid in {project.runner_file}")


@main.command()
@click.option("--check", is_flag=True, help="Exit 2 if the committed schemas are stale instead of writing them.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the schemas live (default: configs/schemas of this checkout).")
def schema(check: bool, directory: Path | None) -> None:
    """Write (or --check) the JSON Schemas of the runner, job and contract files."""
    from .config.schema import SCHEMA_DIR, stale_schemas, write_schemas

    directory = directory or SCHEMA_DIR
    if check:
        stale = stale_schemas(directory)
        if stale:
            click.echo(f"stale JSON Schema(s) in {directory}: {', '.join(stale)}; run `dativo schema`", err=True)
            sys.exit(EXIT_INVALID)
        click.echo("JSON Schemas are up to date.")
        return
    for path in write_schemas(directory):
        click.echo(f"wrote {path}")


@main.command()
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The job file to run.")
@click.option("--all", "run_all", is_flag=True, help="Run every enabled scheduled job of the runner file once.")
@runner_option
@click.option("--json", "as_json", is_flag=True, help="Print each RunResult as a JSON line on stdout.")
def run(job_file: Path | None, run_all: bool, runner_config: Path | None, as_json: bool) -> None:
    """Run one job (--config) or all scheduled jobs (--all) once.

    Exit 0 success, 1 partial (warn-mode violations), 2 permanent failure, 3 transient failure; with --all
    the worst code of the runs."""
    from .config.errors import ConfigError
    from .config.loader import load_job, load_project

    if (job_file is None) == (not run_all):
        raise click.UsageError("give exactly one of --config PATH or --all")
    runner = select_runner(runner_config)
    if job_file is not None:
        try:
            jobs = [load_job(job_file)]
        except ConfigError as exc:
            _print_issues(exc.issues)
            sys.exit(EXIT_INVALID)
    else:
        project = load_project(runner)
        _print_issues(project.issues)
        jobs = list({e.job.file: e.job for e in project.scheduled if e.schedule.enabled}.values())  # each job once
    codes = [_run_and_report(job, as_json) for job in jobs]
    sys.exit(max(codes + ([EXIT_INVALID] if job_file is None and not project.ok else []), default=0))


def _print_issues(issues: list) -> None:
    for issue in issues:
        click.echo(f"ERROR {issue}", err=True)


def _run_and_report(job, as_json: bool) -> int:
    import json

    from .engine.context import CALLER_RUN_IDS_ENV, RunContext
    from .engine.runner import run_job

    # An orchestrator that runs `dativo run` as a child (airflow_bridge's subprocess mode) passes its run ids.
    caller_ids = json.loads(os.environ.get(CALLER_RUN_IDS_ENV, "{}"))
    result = run_job(job, RunContext(caller=caller_ids.pop("caller", "cli"), run_ids=caller_ids))
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
        return result.exit_code
    for obj in result.objects:
        click.echo(f"  {obj.table}: {obj.rows_written} rows, {obj.files_written} files, snapshot {obj.snapshot_id}, "
                   f"cursor {obj.cursor_before} -> {obj.cursor_after}")
    click.echo(f"{job.tenant_id}/{job.name}: {result.status.value}, {result.rows_written} rows in "
               f"{result.duration_seconds}s" + (f" — {result.error_kind} error: {result.error}" if result.error else ""))
    return result.exit_code


@main.command("dagster-home")
@runner_option
def dagster_home_command(runner_config: Path | None) -> None:
    """Write dagster.yaml (tenant limits from the runner file) into DAGSTER_HOME (default DATIVO_HOME/dagster)."""
    from .config.errors import ConfigError
    from .config.loader import load_runner
    from .config.paths import dativo_home
    from .instance import dagster_home, write_instance_config

    runner_file = select_runner(runner_config)
    try:
        runner = load_runner(runner_file)
    except ConfigError as exc:
        _print_issues(exc.issues)
        sys.exit(EXIT_INVALID)
    click.echo(write_instance_config(runner, dagster_home(dativo_home())))


@main.command("sample-data")
@runner_option
def sample_data(runner_config: Path | None) -> None:
    """Create the example project's SQLite database under DATIVO_HOME/sample/."""
    from .sample_data import create_sample_db

    select_runner(runner_config)
    click.echo(f"wrote {create_sample_db()}")


def _load_plugins() -> None:
    """Commands other packages add through the `dativo.cli` entry point group (e.g. airflow_bridge's)."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="dativo.cli"):
        try:
            main.add_command(entry.load(), entry.name)
        except ImportError as exc:  # an optional side not installed: its commands are simply absent
            click.echo(f"warning: dativo plugin {entry.name!r} unavailable: {exc}", err=True)


_load_plugins()

if __name__ == "__main__":  # pragma: no cover
    main()
