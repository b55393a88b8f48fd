"""`dativo airflow ...` and `dativo explain`, plugged into the `dativo` CLI through the `dativo.cli` entry
point group (dativo_defs never imports the bridge)."""

from __future__ import annotations

import sys
from datetime import UTC

import click

from dativo_defs.cli import runner_option, select_runner


def _login(api_url: str, username: str | None = None, password: str | None = None):
    from .airflow_api import AirflowApi

    try:
        return AirflowApi.login(api_url, username, password)
    except (PermissionError, ConnectionError) as exc:
        click.echo(f"ERROR {exc}", err=True)
        sys.exit(2)


@click.group("airflow")
def airflow_group() -> None:
    """Airflow side: pools and the DAG manifest."""


@airflow_group.command("sync-pools")
@runner_option
@click.option("--api-url", default=None, help="Airflow API server (e.g. http://127.0.0.1:8080); default: airflow CLI.")
@click.option("--username", default=None)
@click.option("--password", default=None, help="Default: AIRFLOW_PASSWORD or the standalone passwords file.")
def sync_pools(runner_config, api_url, username, password) -> None:
    """Create or update one Airflow pool per tenant with concurrency_per_tenant slots."""
    from .cache import load_manifest
    from .pools import missing_pools, required_pools, sync_with_api, sync_with_cli

    select_runner(runner_config)
    pools = required_pools(load_manifest())
    if api_url:
        api = _login(api_url, username, password)
        outcome = sync_with_api(pools, api)
        missing = missing_pools(pools, api)
        if missing:
            click.echo(f"ERROR pools still missing after sync: {', '.join(missing)}", err=True)
            sys.exit(2)
    else:
        outcome = sync_with_cli(pools)
    for name, state in outcome.items():
        click.echo(f"{name}: {pools[name]} slot(s) ({state})")


@airflow_group.command("compile")
@runner_option
@click.option("--if-stale", is_flag=True, help="Compile only when the manifest is missing or its inputs changed.")
@click.option("--check", is_flag=True, help="Compile nothing: list what changed since the compile; exit 1 if stale.")
def compile_command(runner_config, if_stale, check) -> None:
    """Compile the DAG manifest the Airflow parse reads (a deploy step: after every config change, before Airflow
    parses; the parse itself never builds the Dagster definitions)."""
    import time

    from .cache import read_manifest, rebuild_manifest
    from .manifest import changes
    from .settings import manifest_path

    select_runner(runner_config)
    if check or if_stale:
        current = read_manifest()
        changed = ["no manifest"] if current is None else changes(current.stamp)
        if not changed:
            click.echo(f"current: {manifest_path()} (compiled {current.compiled_at if current else ''})")
            return
        if check:
            click.echo(f"stale: {manifest_path()}")
            for line in changed:
                click.echo(f"  {line}")
            sys.exit(1)
    started = time.perf_counter()
    manifest = rebuild_manifest()
    click.echo(f"compiled {len(manifest.dags)} DAG(s) from {len(manifest.stamp.files)} file(s) in "
               f"{time.perf_counter() - started:.1f} s: {manifest_path()}")
    for issue in manifest.issues:
        click.echo(f"WARNING {issue}", err=True)


@airflow_group.command("manifest")
@runner_option
def show_manifest(runner_config) -> None:
    """Compile and print the manifest the DAGs are rendered from."""
    from .cache import rebuild_manifest

    select_runner(runner_config)
    click.echo(rebuild_manifest().to_json())


@click.command("explain")
@runner_option
@click.option("--api-url", default=None, help="Also compare with the live Airflow (pause state, pools).")
@click.option("--from", "start", default=None, help="Compare fire instants from this ISO time (default: now), "
              "e.g. 2026-03-28T00:00:00+00:00 to cross a DST change.")
@click.option("--fires", default=6, show_default=True, help="How many fire instants to compare per cron schedule.")
def explain_command(runner_config, api_url, start, fires) -> None:
    """Per schedule, the Dagster and Airflow sides by attribute and behaviour (next fire instants, retry waits,
    effective interval, owner); exit 1 on any difference."""
    from datetime import datetime

    from dativo_defs.config.loader import load_project

    from .cache import load_manifest
    from .explain import explain, render_table
    from .render import render_dag
    from .settings import execution_mode

    runner = select_runner(runner_config)
    from dativo_defs.definitions import build_definitions

    defs = build_definitions(load_project(runner))
    dags = {spec.dag_id: render_dag(spec, execution_mode()) for spec in load_manifest().dags}
    live = None
    if api_url:
        api = _login(api_url)
        live = {"paused": {d: (api.get(f"/dags/{d}") or {}).get("is_paused", True) for d in dags},
                "pools": {p["name"]: p["slots"] for p in (api.get("/pools?limit=1000") or {}).get("pools", [])}}
    when = None
    if start:
        when = datetime.fromisoformat(start)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    rows = explain(defs, dags, live, mode=execution_mode(), start=when, fire_count=fires)
    click.echo(render_table(rows))
    bad = [r for r in rows if not r.ok]
    click.echo(f"{len(bad)} mismatch(es) in {len({r.schedule for r in rows})} DAG(s)")
    sys.exit(1 if bad else 0)


@airflow_group.command("standalone")
@runner_option
@click.option("--port", default=8080, show_default=True)
def standalone_command(runner_config, port) -> None:
    """Compile the manifest, migrate, sync pools and run `airflow standalone` on this project (Ctrl-C stops it:
    exit 0, no process left)."""
    from dativo_defs.supervise import supervise

    from .standalone import VENV_BIN, airflow_env, login_hint, prepare

    select_runner(runner_config)
    env = airflow_env(port)
    prepare(env)
    click.echo(login_hint(port))
    sys.exit(supervise([str(VENV_BIN / "airflow"), "standalone"], env=env))


@click.command("start")
@click.argument("mode", type=click.Choice(["orchestrated", "oneshot"]))
@runner_option
@click.option("--airflow-port", default=8080, show_default=True)
@click.option("--dagster-port", default=3000, show_default=True)
def start_command(mode, runner_config, airflow_port, dagster_port) -> None:
    """orchestrated: start what owns the schedules (dagster dev, Airflow standalone, or both when ownership is
    split). oneshot: run every enabled job once."""
    import subprocess

    from dativo_defs.config.loader import load_project
    from dativo_defs.config.paths import dativo_home
    from dativo_defs.instance import dagster_home, write_instance_config

    from .standalone import VENV_BIN, login_hint, standalone

    runner = select_runner(runner_config)
    if mode == "oneshot":
        sys.exit(subprocess.run([str(VENV_BIN / "dativo"), "run", "--all"]).returncode)
    project = load_project(runner)
    if project.runner is None:
        for issue in project.issues:
            click.echo(f"ERROR {issue}", err=True)
        sys.exit(2)
    owners = {e.owner.value for e in project.scheduled if e.schedule.enabled} or {project.runner.orchestrator.type.value}
    processes = []
    if "dagster" in owners:
        home = dagster_home(dativo_home())
        write_instance_config(project.runner, home)
        env = {**__import__("os").environ, "DAGSTER_HOME": str(home)}
        processes.append(subprocess.Popen([str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
                                           "-p", str(dagster_port)], env=env))
        click.echo(f"Dagster UI: http://127.0.0.1:{dagster_port}")
    if "airflow" in owners:
        processes.append(standalone(airflow_port))
        click.echo(login_hint(airflow_port))
    try:
        for process in processes:
            process.wait()
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
