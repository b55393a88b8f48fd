"""The upstream Dativo command line as part of `dativo`: secret-manager options, `--mode`, `--tenant-id`,
`--job-dir`, and the `check` / `discover` commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import overload

import click

from .config.upstream.secrets import MANAGER_CONFIG_ENV, MANAGER_ENV, SECRETS_DIR_ENV

EXIT_INVALID = 2
DATABASE_SOURCES = {"postgres", "postgresql", "mysql", "mariadb", "sqlite"}


@overload
def app_path(path: Path) -> Path: ...
@overload
def app_path(path: None) -> None: ...
def app_path(path: Path | None) -> Path | None:
    """A command-line path under upstream's Docker WORKDIR (/app/...) mapped like the paths in files
    (config/upstream/paths.py), when it does not exist as given."""
    from .config.upstream.paths import is_app_path, map_path

    if path is None or path.exists() or not is_app_path(str(path)):
        return path
    return map_path(str(path), Path.cwd())


def load_job_or_exit(path: Path):
    """The job at `path` (an upstream /app path mapped); a config error is printed, one issue a line, and exits 2."""
    from .config.errors import ConfigError
    from .config.loader import load_job

    try:
        return load_job(app_path(path))
    except ConfigError as exc:
        for issue in exc.issues:
            click.echo(f"ERROR {issue}", err=True)
        sys.exit(EXIT_INVALID)


def upstream_run_options(command):
    """Options of upstream's `run`, added to dativo's."""
    for option in reversed([
        click.option("--job-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Run every job file (*.yaml) in this folder."),
        click.option("--secrets-dir", type=click.Path(file_okay=False), default=None,
                     help="Filesystem secret manager root: <dir>/<tenant>/<name>.env|.json."),
        click.option("--secret-manager", type=click.Choice(["env", "filesystem", "vault", "aws", "gcp"]), default=None,
                     help="Where upstream-format jobs' credentials come from (vault and gcp are refused)."),
        click.option("--secret-manager-config", default=None,
                     help="Secret manager settings: a JSON/YAML file or inline JSON."),
        click.option("--tenant-id", default=None, help="Only jobs of this tenant (a job of another tenant is an error)."),
        click.option("--mode", type=click.Choice(["self_hosted", "cloud"]), default="self_hosted", show_default=True,
                     help="cloud refuses database sources, as upstream does."),
    ]):
        command = option(command)
    return command


def select_secrets(secrets_dir: str | None, manager: str | None, manager_config: str | None) -> None:
    """Export the secret-manager choice so every loader of the job (this process and its children) agrees."""
    from .config.upstream.secrets import SecretManagerError, manager_kind

    for env, value in ((SECRETS_DIR_ENV, secrets_dir), (MANAGER_ENV, manager), (MANAGER_CONFIG_ENV, manager_config)):
        if value:
            os.environ[env] = str(Path(value).resolve()) if env == SECRETS_DIR_ENV else value
    if manager or secrets_dir:
        try:
            manager_kind()
        except SecretManagerError as exc:
            click.echo(f"ERROR --secret-manager: {exc}", err=True)
            sys.exit(EXIT_INVALID)


def job_dir_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()) if folder.is_dir() else []
    if not files:
        click.echo(f"ERROR --job-dir {folder}: no job files (*.yaml) there", err=True)
        sys.exit(EXIT_INVALID)
    return files


def refusal(job, mode: str, tenant_id: str | None) -> str | None:
    """Why `job` may not run with these options, or None."""
    if tenant_id and job.tenant_id != tenant_id:
        return f"{job.file}: job belongs to tenant {job.tenant_id!r}, not --tenant-id {tenant_id!r}"
    if mode == "cloud" and job.config.source.type in DATABASE_SOURCES:
        return (f"{job.file}: source {job.config.source.type!r} is a database connector, which cloud mode does not allow "
                "(as upstream); run it with --mode self_hosted")
    return None


@click.command("check")
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--verbose", is_flag=True, help="Print each check's detail.")
@click.option("--secrets-dir", default=None)
@click.option("--secret-manager", type=click.Choice(["env", "filesystem", "vault", "aws", "gcp"]), default=None)
@click.option("--secret-manager-config", default=None)
@click.option("--mode", type=click.Choice(["self_hosted", "cloud"]), default="self_hosted", show_default=True)
def check_command(job_file: Path, as_json: bool, verbose: bool, secrets_dir, secret_manager, secret_manager_config,
                  mode: str) -> None:
    """Test a job's connections: config valid, source reachable (auth ok), target writable. Exit 0 when all pass."""
    from .config.errors import ConfigError
    from .config.loader import Job, load_job
    from .config.paths import dativo_home
    from .engine.errors import describe
    from .engine.sources import load_source
    from .engine.targets import load_target

    select_secrets(secrets_dir, secret_manager, secret_manager_config)
    job_file = app_path(job_file)
    checks: list[dict] = []
    job: Job | None
    try:
        job = load_job(job_file)
        reason = refusal(job, mode, None)
        checks.append({"name": "config", "ok": reason is None, "detail": reason or f"{job.tenant_id}/{job.name}"})
        if reason:
            job = None
    except ConfigError as exc:
        job = None
        checks.append({"name": "config", "ok": False, "detail": "; ".join(str(i) for i in exc.issues)})
    if job is not None:
        try:
            source = load_source(job.config.source, job.base_dir)
            try:
                streams = source.streams()
                if hasattr(source, "_connection"):
                    source._connection()  # SQL: connect and authenticate
                if hasattr(source, "check_connection"):  # an upstream reader plugin tests its own connection
                    probe = source.check_connection()
                    checks.append({"name": "source", "ok": probe.success, "detail": probe.message})
                else:
                    checks.append({"name": "source", "ok": True, "detail": f"{len(streams)} stream(s)"})
            finally:
                source.close()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks.append({"name": "source", "ok": False, "detail": describe(exc)})
        try:
            target = load_target(job.config.target, job.tenant_id, job.name, dativo_home(), job.base_dir)
            try:
                if hasattr(target, "catalog"):
                    # duck-typed: a target with a catalog (Iceberg) has a namespace too; the Target base has neither
                    target.catalog.create_namespace_if_not_exists(target.namespace)  # type: ignore[attr-defined]
                if hasattr(target, "check_connection"):  # an upstream writer plugin tests its own connection
                    probe = target.check_connection()
                    checks.append({"name": "target", "ok": probe.success, "detail": probe.message})
                else:
                    checks.append({"name": "target", "ok": True, "detail": job.config.target.type})
            finally:
                target.close()
        except Exception as exc:  # noqa: BLE001
            checks.append({"name": "target", "ok": False, "detail": describe(exc)})
    ok = all(c["ok"] for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "config": str(job_file), "checks": checks}))
    else:
        for c in checks:
            detail = f": {c['detail']}" if verbose or not c["ok"] else ""
            click.echo(f"{'OK  ' if c['ok'] else 'FAIL'} {c['name']}" + detail)
    sys.exit(0 if ok else EXIT_INVALID)


@click.command("discover")
@click.option("--config", "job_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--connector", default=None, help="A connector name: lists the objects dativo knows for it.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--verbose", is_flag=True, help="Say where the list comes from.")
@click.option("--secrets-dir", default=None)
@click.option("--secret-manager", type=click.Choice(["env", "filesystem", "vault", "aws", "gcp"]), default=None)
@click.option("--secret-manager-config", default=None)
def discover_command(job_file: Path | None, connector: str | None, as_json: bool, verbose: bool, secrets_dir,
                     secret_manager, secret_manager_config) -> None:
    """List the tables / streams of a source (--config), or the objects of a connector (--connector)."""
    from .config.upstream.translate import FILE_TYPES, GOOGLE_TYPES, REFUSED_SOURCES, REST_PATHS, SQL_TYPES

    if (job_file is None) == (connector is None):
        raise click.UsageError("give exactly one of --config PATH or --connector NAME")
    select_secrets(secrets_dir, secret_manager, secret_manager_config)
    job_file = app_path(job_file)
    if connector is not None:
        known = {"stripe": ["customers", "charges", "invoices"], "hubspot": ["contacts", "companies", "deals"]}
        if connector in REFUSED_SOURCES:
            click.echo(f"ERROR {REFUSED_SOURCES[connector]}", err=True)
            sys.exit(EXIT_INVALID)
        if connector in REST_PATHS:
            names = known[connector]
        elif connector in SQL_TYPES or connector in (*FILE_TYPES, *GOOGLE_TYPES):
            click.echo(f"ERROR {connector}: its tables/files depend on the connection; use --config JOB", err=True)
            sys.exit(EXIT_INVALID)
        else:
            click.echo(f"ERROR unknown connector {connector!r}", err=True)
            sys.exit(EXIT_INVALID)
    elif job_file is not None:  # exactly one of the two is given (checked above)
        names = _discover(load_job_or_exit(job_file))
    if verbose and not as_json:
        click.echo(f"# {len(names)} stream(s) of {job_file or connector}", err=True)
    click.echo(json.dumps({"streams": names}) if as_json else "\n".join(names))


def _discover(job) -> list[str]:
    """SQL: the tables of the database (schema.table); files: the matching files; REST: the configured objects."""
    from .engine.errors import describe
    from .engine.sources import load_source

    cfg = job.config.source
    if cfg.type in ("postgres", "postgresql", "mysql", "mariadb"):
        source = load_source(cfg, job.base_dir)
        try:
            cursor = source._connection().cursor()  # type: ignore[attr-defined]  # the SQL sources' connection
            where = "table_schema NOT IN ('pg_catalog', 'information_schema', 'mysql', 'performance_schema', 'sys')"
            cursor.execute(f"SELECT table_schema, table_name FROM information_schema.tables WHERE {where} "
                           "ORDER BY table_schema, table_name")
            rows = cursor.fetchall()
            cursor.close()
            return [f"{schema}.{name}" for schema, name in rows]
        except Exception as exc:  # noqa: BLE001
            click.echo(f"ERROR source: {describe(exc)}", err=True)
            sys.exit(EXIT_INVALID)
        finally:
            source.close()
    if cfg.type == "upstream_plugin":  # the plugin's own discover()
        source = load_source(cfg, job.base_dir)
        try:
            return source.discover()  # type: ignore[attr-defined]  # only the plugin source has discover()
        except Exception as exc:  # noqa: BLE001
            click.echo(f"ERROR source: {describe(exc)}", err=True)
            sys.exit(EXIT_INVALID)
        finally:
            source.close()
    return cfg.objects()
