"""The `dativo` command line. User errors print file, field and line and exit 2 — never a traceback."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from .cli_run import Output, output_options, run_and_report
from .cli_upstream import app_path, job_dir_files, load_job_or_exit, refusal, select_secrets, upstream_run_options
from .config.paths import RUNNER_CONFIG_ENV, runner_config_path

EXIT_INVALID = 2
# Commands whose modules are imported only when the command is invoked or listed (`dativo run` needs none of
# them): name -> "module:attribute", the attribute a click command or a function that builds one.
LAZY_COMMANDS = {
    "check": "dativo_defs.cli_upstream:check_command",
    "discover": "dativo_defs.cli_upstream:discover_command",
    "docs": "dativo_defs.connector_docs:docs_command",
    "init": "dativo_defs.cli_init:init_command",
    "preview": "dativo_defs.cli_preview:preview_command",
    "show": "dativo_defs.cli_show:show_command",
}


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is looked up, and loads the commands other
    packages add through the `dativo.cli` entry point group (e.g. airflow_bridge's) only when a name is not
    dativo's own or the commands are listed: scanning the installed packages' entry points costs a fresh
    process tens of milliseconds."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        self.plugins_loaded = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_plugins()
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attribute = self.lazy.pop(cmd_name).partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command if isinstance(command, click.Command) else command(), cmd_name)
        elif cmd_name not in self.commands:
            self.load_plugins()
        return self.commands.get(cmd_name)

    def load_plugins(self) -> None:
        from importlib.metadata import entry_points

        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        for entry in entry_points(group="dativo.cli"):
            if entry.name in self.commands or entry.name in self.lazy:
                continue  # a plugin does not replace one of dativo's own commands
            try:
                self.add_command(entry.load(), entry.name)
            except ImportError as exc:  # an optional side not installed: its commands are simply absent
                click.echo(f"warning: dativo plugin {entry.name!r} unavailable: {exc}", err=True)

runner_option = click.option(
    "--runner-config", "runner_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"Runner file (default: ${RUNNER_CONFIG_ENV} or configs/runner.yaml).",
)


def select_runner(path: Path | None) -> Path:
    """Resolve the runner file and export it, so every later lookup (jobs, DATIVO_HOME) agrees."""
    resolved = runner_config_path(app_path(path))
    os.environ[RUNNER_CONFIG_ENV] = str(resolved)
    return resolved


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dativo", prog_name="dativo")
def main() -> None:
    """dativo: config-driven ingestion into Iceberg, orchestrated by Dagster or Airflow."""


@main.command()
@runner_option
def validate(runner_config: Path | None) -> None:
    """Validate the runner file and every job it references; print the schedules."""
    from .acceptance import accept
    from .config.loader import load_project
    from .config.report import schedule_table
    from .config.warnings import job_warnings

    project = accept(load_project(select_runner(runner_config)))
    if project.scheduled:
        click.echo(schedule_table(project))
    jobs = {entry.job.file: entry.job for entry in project.scheduled} | {job.file: job for job in project.unscheduled}
    for job in jobs.values():
        for warning in job_warnings(job):
            click.echo(f"WARNING {warning}", err=True)
    for entry in project.scheduled:
        cadence = entry.schedule.cadence_warning()
        if cadence:
            click.echo(f"WARNING {project.runner_file}: schedule {entry.schedule.name!r}: {cadence}", err=True)
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
@output_options
@upstream_run_options
def run(job_file: Path | None, run_all: bool, runner_config: Path | None, output: Output, job_dir: Path | None,
        secrets_dir: str | None, secret_manager: str | None, secret_manager_config: str | None, tenant_id: str | None,
        mode: str) -> None:
    """Run one job (--config) or all scheduled jobs (--all) once.

    Exit 0 success, 1 partial (warn-mode violations), 2 permanent failure, 3 transient failure; with --all
    the worst code of the runs."""
    if sum((job_file is not None, run_all, job_dir is not None)) != 1:
        raise click.UsageError("give exactly one of --config PATH, --job-dir DIR or --all")
    runner = select_runner(runner_config)
    select_secrets(secrets_dir, secret_manager, secret_manager_config)
    jobs, project_ok = _selected_jobs(job_file, job_dir, runner, enabled_only=True)
    refused = [reason for job in jobs if (reason := refusal(job, mode, tenant_id))]
    if refused:
        for reason in refused:
            click.echo(f"ERROR {reason}", err=True)
        sys.exit(EXIT_INVALID)
    codes = [run_and_report(job, output) for job in jobs]
    sys.exit(max(codes + ([] if project_ok else [EXIT_INVALID]), default=0))


def _print_issues(issues: list) -> None:
    for issue in issues:
        click.echo(f"ERROR {issue}", err=True)


def _selected_jobs(job_file: Path | None, job_dir: Path | None, runner: Path, *, enabled_only: bool) -> tuple[list, bool]:
    """The jobs named by --config or --job-dir (upstream /app paths mapped), else every job of the runner file,
    each once (only those with an enabled schedule when `enabled_only`); and whether the runner file loaded
    cleanly. A config error is printed and exits 2."""
    from .config.loader import load_project

    if job_file is not None:
        files = [job_file]
    elif job_dir is not None:
        files = job_dir_files(app_path(job_dir))
    else:
        project = load_project(runner)
        _print_issues(project.issues)
        entries = [e for e in project.scheduled if e.schedule.enabled or not enabled_only]
        return list({e.job.file: e.job for e in entries}.values()), project.ok
    return [load_job_or_exit(file) for file in files], True


@main.command()
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Maintain the tables of this job.")
@click.option("--job-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Maintain the tables of every job file (*.yaml) in this folder.")
@click.option("--all", "run_all", is_flag=True, help="Maintain the tables of every job of the runner file.")
@runner_option
@click.option("--older-than", "older_than_hours", type=click.FloatRange(min=0), default=None,
              help="Expire snapshots older than this many hours (default 120: Iceberg's 5 days).")
@click.option("--retain-last", type=click.IntRange(min=1), default=None, help="Snapshots always kept (default 1).")
@click.option("--orphan-grace", "orphan_grace_hours", type=click.FloatRange(min=0), default=None,
              help="Only files older than this many hours can be orphans (default 72).")
@click.option("--no-compact", is_flag=True, help="Skip rewriting small data files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per table.")
def maintain(job_file: Path | None, job_dir: Path | None, run_all: bool, runner_config: Path | None,
             older_than_hours: float | None, retain_last: int | None, orphan_grace_hours: float | None,
             no_compact: bool, as_json: bool) -> None:
    """Expire old snapshots, remove orphan files and compact small files of the jobs' Iceberg tables; safe
    while the jobs run. Exit 0 done, 2 bad config, 3 a transient failure (run it again)."""
    import dataclasses
    import json
    from datetime import timedelta

    from .engine.errors import classify, describe
    from .engine.maintain import MaintenanceSettings, maintain_job

    if sum((job_file is not None, run_all, job_dir is not None)) != 1:
        raise click.UsageError("give exactly one of --config PATH, --job-dir DIR or --all")
    jobs, _ = _selected_jobs(job_file, job_dir, select_runner(runner_config), enabled_only=False)
    defaults = MaintenanceSettings()
    settings = MaintenanceSettings(
        older_than=timedelta(hours=older_than_hours) if older_than_hours is not None else defaults.older_than,
        retain_last=retain_last or defaults.retain_last,
        orphan_grace=timedelta(hours=orphan_grace_hours) if orphan_grace_hours is not None else defaults.orphan_grace,
        compact=not no_compact)
    code = 0
    for job in jobs:
        try:
            reports = maintain_job(job, settings)
        except Exception as exc:  # noqa: BLE001 - classified and reported like a run's failure
            kind = classify(exc)
            click.echo(f"{job.tenant_id}/{job.name}: {kind.value} error: {describe(exc)}", err=True)
            code = max(code, 3 if kind.value == "transient" else EXIT_INVALID)
            continue
        for report in reports:
            if as_json:
                click.echo(json.dumps(dataclasses.asdict(report)))
            else:
                click.echo(f"{report.table}: {report.snapshots_expired} snapshot(s) expired, {report.orphans_removed} "
                           f"orphan file(s) removed, {report.files_compacted} small file(s) compacted into "
                           f"{report.files_written}, {report.states_migrated} state(s) migrated"
                           + "".join(f"; {note}" for note in report.notes))
    sys.exit(code)


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


if __name__ == "__main__":  # pragma: no cover
    # `python -m dativo_defs.cli`: run the importable module's `main`, so plugins that import dativo_defs.cli
    # (airflow_bridge) find one fully initialised module instead of this partially run __main__ copy.
    from dativo_defs.cli import main as _main

    _main()
