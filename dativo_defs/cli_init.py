"""`dativo init`: a new project (runner + one job + contract + sample data), or `dativo init job` for one more job
in an existing project. Every file carries the JSON Schema header and comments, and passes `dativo validate` as
written. On a terminal missing answers are asked for; otherwise flags and defaults are used."""

from __future__ import annotations

import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from .config.sources import DIALECT_ONLY_TYPES, SOURCE_TYPES
from .config.targets import TARGET_TYPES

EXIT_INVALID = 2
SAMPLE_ROWS = [(1, "first", "2026-01-01T00:00:00+00:00"), (2, "second", "2026-01-02T00:00:00+00:00"),
               (3, "third", "2026-01-03T00:00:00+00:00")]

INIT_SOURCE_TYPES = [t for t in SOURCE_TYPES if t not in DIALECT_ONLY_TYPES]


@dataclass(frozen=True)
class Answers:
    tenant: str
    name: str
    source: str
    target: str
    object: str


def _ask(value: str | None, label: str, default: str | None, choices: list[str] | None = None) -> str:
    """The flag's value; else, on a terminal, a prompt; else the default (or a usage error when there is none)."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return click.prompt(label, default=default, type=click.Choice(choices) if choices else str)
    if default is None:
        raise click.UsageError(f"--{label.split()[0].lower()} is required when not on a terminal")
    return default


def _answers(tenant, name, source, target, obj, default_tenant: str | None) -> Answers:
    tenant = _safe(_ask(tenant, "tenant id", default_tenant), "--tenant")
    source = _ask(source, "source type", "csv", INIT_SOURCE_TYPES)
    target = _ask(target, "target type", "iceberg", TARGET_TYPES)
    obj = _safe(_ask(obj, "object (table) name", "items"), "--object")
    if source == "sqlite" and obj.lower().startswith("sqlite_"):
        raise click.BadParameter("sqlite reserves names starting with sqlite_", param_hint="--object")
    name = _safe(_ask(name, "job name", source if source != "csv" else obj), "--name")
    return Answers(tenant, name, source, target, obj)


def _safe(value: str, flag: str) -> str:
    from .config.base import _check_name

    try:
        return _check_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


common = [
    click.option("--tenant", default=None, help="Tenant id owning the job."),
    click.option("--name", default=None, help="Job name (file name; default: the source type, or the object for csv)."),
    click.option("--source", type=click.Choice(INIT_SOURCE_TYPES), default=None, help="Source type (default csv)."),
    click.option("--target", type=click.Choice(TARGET_TYPES), default=None, help="Target type (default iceberg)."),
    click.option("--object", "obj", default=None, help="Object (table / stream) the job reads (default items)."),
    click.option("--force", is_flag=True, help="Overwrite files that exist."),
]


def _with_common(func):
    for option in reversed(common):
        func = option(func)
    return func


@click.group("init", invoke_without_command=True)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Project directory to create (configs/, jobs/).")
@_with_common
@click.pass_context
def init_command(ctx: click.Context, directory: Path, tenant, name, source, target, obj, force: bool) -> None:
    """Scaffold a new project: configs/runner.yaml with one schedule, one job, its contract and sample data."""
    if ctx.invoked_subcommand is not None:
        return
    answers = _answers(tenant, name, source, target, obj, "demo")
    runner = directory / "configs" / "runner.yaml"
    _refuse_existing([runner], force)
    from .config.schema import write_schemas

    write_schemas(directory / "configs" / "schemas")
    written = _write_job(directory / "jobs", runner.parent / "schemas", answers, force)
    runner.write_text(_runner_text(answers), encoding="utf-8")
    for path in [runner, *written]:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && dativo validate && dativo preview --config {written[0].relative_to(directory)}"
               f" && dativo run --all")


@init_command.command("job")
@_with_common
@click.option("--runner-config", "runner_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The project's runner file (default: $DATIVO_RUNNER_CONFIG or configs/runner.yaml).")
def init_job_command(tenant, name, source, target, obj, force: bool, runner_config: Path | None) -> None:
    """Add a job (job file, contract, sample data for file and sqlite sources) to an existing project."""
    from .cli import select_runner

    runner = select_runner(runner_config)
    if not runner.exists():
        click.echo(f"ERROR {runner}: no runner file here; run `dativo init` first or pass --runner-config", err=True)
        sys.exit(EXIT_INVALID)
    answers = _answers(tenant, name, source, target, obj, None)
    jobs_dir = runner.parent.parent / "jobs" if runner.parent.name == "configs" else runner.parent / "jobs"
    schemas = runner.parent / "schemas"
    if not (schemas / "job.schema.json").exists():
        from .config.schema import SCHEMA_DIR

        schemas = SCHEMA_DIR
    written = _write_job(jobs_dir, schemas, answers, force)
    for path in written:
        click.echo(f"wrote {path}")
    rel = os.path.relpath(written[0], runner.parent)
    click.echo(f"To schedule it, add to {runner} under schedules:\n"
               f"      - name: {answers.tenant}_{answers.name}\n        config: {rel}\n        cron: \"0 * * * *\"")


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        click.echo(f"ERROR {', '.join(existing)} exist(s); pass --force to overwrite", err=True)
        sys.exit(EXIT_INVALID)


def _write_job(jobs_dir: Path, schemas: Path, a: Answers, force: bool) -> list[Path]:
    folder = jobs_dir / a.tenant
    job, contract = folder / f"{a.name}.yaml", folder / "contracts" / f"{a.name}.yaml"
    data = _sample_file(folder, a)
    _refuse_existing([job, contract] + ([data] if data else []), force)
    contract.parent.mkdir(parents=True, exist_ok=True)
    job.write_text(_job_text(a, os.path.relpath(schemas / "job.schema.json", folder)), encoding="utf-8")
    contract.write_text(_contract_text(a, os.path.relpath(schemas / "contract.schema.json", contract.parent)),
                        encoding="utf-8")
    written = [job, contract]
    if data is not None:
        _write_sample(data, a.source, a.object)
        written.append(data)
    return written


def _sample_file(folder: Path, a: Answers) -> Path | None:
    suffix = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "sqlite": "db"}.get(a.source)
    return folder / "data" / f"{a.object}.{suffix}" if suffix else None


def _write_sample(path: Path, source: str, obj: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if source == "csv":
        path.write_text("id,name,updated_at\n" + "".join(f"{i},{n},{t}\n" for i, n, t in SAMPLE_ROWS), encoding="utf-8")
    elif source == "jsonl":
        import json

        path.write_text("".join(json.dumps({"id": i, "name": n, "updated_at": t}) + "\n" for i, n, t in SAMPLE_ROWS),
                        encoding="utf-8")
    elif source == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist([{"id": i, "name": n, "updated_at": t} for i, n, t in SAMPLE_ROWS]), path)
    else:  # sqlite
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as db:
            db.execute(f'CREATE TABLE "{obj}" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL)')
            db.executemany(f'INSERT INTO "{obj}" VALUES (?, ?, ?)', SAMPLE_ROWS)


def _source_block(a: Answers) -> str:
    if a.source in ("csv", "jsonl", "parquet"):
        return (f"source:\n  type: {a.source}\n  files:\n"
                f"    - path: data/{a.object}*.{a.source}   # local path or s3://, globs allowed, relative to this file\n"
                f"      object: {a.object}                  # the output table\n"
                f"  incremental:\n    strategy: cursor                # or file_modified_time: only new or changed files\n"
                f"    cursor_field: updated_at          # its maximum is remembered between runs\n")
    if a.source in ("gdrive_csv", "google_sheets"):
        entry = ("  files:\n    - file_id: REPLACE_WITH_THE_FILE_ID      # or folder_id: every CSV file in a folder\n"
                 if a.source == "gdrive_csv" else
                 "  sheets:\n    - spreadsheet_id: REPLACE_WITH_THE_ID  # from the spreadsheet's URL\n"
                 "      sheet_id: 0                       # the gid in its URL (or sheet: <title>; range: A1:F)\n")
        return (f"source:\n  type: {a.source}\n"
                "  credentials: {file: secrets/google-service-account.json}   # the service account's key; share "
                "the file with its email\n" + entry + f"      object: {a.object}                  # the output table\n"
                "  incremental:\n    strategy: file_modified_time      # read a file again only when it changed\n")
    if a.source == "sqlite":
        connection = f"  connection:\n    database: data/{a.object}.db        # the file, relative to this job file\n"
    elif a.source in ("postgres", "postgresql"):
        connection = ("  connection:                         # or dsn: {env: DATABASE_URL}\n"
                      "    host: ${PGHOST:-127.0.0.1}\n    port: 5432\n    database: ${PGDATABASE:-postgres}\n"
                      "    user: ${PGUSER:-postgres}\n"
                      "    # password: {env: PGPASSWORD}   # a secret reference, never the value\n")
    elif a.source in ("mysql", "mariadb"):
        connection = ("  connection:                         # or dsn: {env: DATABASE_URL}\n"
                      "    host: ${MYSQL_HOST:-127.0.0.1}\n    port: 3306\n    database: ${MYSQL_DATABASE:-app}\n"
                      "    user: ${MYSQL_USER:-root}\n"
                      "    # password: {env: MYSQL_PASSWORD}   # a secret reference, never the value\n")
    else:
        if a.source == "rest":
            base = "  base_url: https://api.example.com\n"
        else:
            base = "  # base_url, data_selector, paging, cursor_field and primary_key: the preset's (see the docs)\n"
        return (f"source:\n  type: {a.source}\n{base}"
                f"  auth: {{type: bearer, token: {{env: {a.source.upper()}_TOKEN}}}}   # a secret reference\n"
                f"  resources:\n    - object: {a.object}\n      path: /{a.object}\n"
                + ("      data_selector: data               # JSON path of the records in each page\n"
                   "      paginator: {type: single_page}    # cursor | offset | page_number | header_link\n"
                   "      cursor_field: updated_at\n      primary_key: [id]\n" if a.source == "rest" else ""))
    return (f"source:\n  type: {a.source}\n{connection}  tables:\n"
            f"    - name: {a.object}                    # table (schema.table allowed) or query: SELECT ...\n"
            f"      cursor_field: updated_at\n      primary_key: [id]\n"
            f"  incremental:\n    cursor_field: updated_at          # its maximum is remembered between runs\n")


def _job_text(a: Answers, schema: str) -> str:
    target = ("target:\n  type: iceberg                       # embedded SQLite catalog under DATIVO_HOME unless "
              "catalog: is given\n  mode: append                        # append | overwrite | merge (by primary key)\n"
              if a.target == "iceberg" else
              "target:\n  type: parquet                       # default path: DATIVO_HOME/parquet/<tenant>\n"
              "  mode: append                        # append | overwrite (each run with rows replaces the data)\n")
    return (f"# yaml-language-server: $schema={schema}\n"
            f"# Written by `dativo init`: {a.source} -> {a.target}. Fields: docs/connectors/"
            f"{a.source + '-source' if a.source in TARGET_TYPES else a.source}.md and docs/connectors/{a.target}.md.\n"
            f"tenant_id: {a.tenant}\n" + _source_block(a) + target +
            f"# the columns the data must have (a file relative to this one, or inline)\n"
            f"contract: contracts/{a.name}.yaml\n"
            f"schema_validation_mode: strict         # strict: reject a run with violations; warn: land and report\n"
            f"retry_config:\n  max_retries: 3                      # transient failures only (network, locks)\n")


def _contract_text(a: Answers, schema: str) -> str:
    return (f"# yaml-language-server: $schema={schema}\n"
            f"# The columns of {a.tenant}/{a.name}: edit them to match your source.\n"
            f"apiVersion: v3.0.2\nkind: DataContract\nname: {a.tenant}_{a.name}\nversion: \"1.0\"\n"
            f"schema:\n  - {{name: id, type: long, required: true, primaryKey: true}}\n"
            f"  - {{name: name, type: string, required: true}}\n"
            f"  - {{name: updated_at, type: string, required: true}}\n")


def _runner_text(a: Answers) -> str:
    return ("# yaml-language-server: $schema=./schemas/runner.schema.json\n"
            "# Written by `dativo init`. Paths are relative to this file.\n"
            "runner:\n  mode: orchestrated\n"
            "  jobs: [\"../jobs/*/*.yaml\"]      # every job file is defined; those no schedule names run by hand\n"
            "  orchestrator:\n    type: dagster                 # dagster | airflow: who owns the schedules\n"
            "    concurrency_per_tenant: 1     # runs of one tenant never overlap\n    schedules:\n"
            f"      - name: {a.tenant}_{a.name}_hourly\n        config: ../jobs/{a.tenant}/{a.name}.yaml\n"
            "        cron: \"0 * * * *\"           # or interval_seconds: N\n        timezone: UTC\n")
