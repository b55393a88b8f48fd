"""Secret canary: planted secret values never appear in any output or file dativo produces.

Every way of giving a secret is planted with its own value: inline, `{env: VAR}`, `{file: PATH}` and `${VAR}`
interpolated into a plain string, on the secret-bearing fields of each source kind (SQL `password` and `dsn`,
REST `auth.token` / `auth.password`, object storage keys). Jobs that can run against a real server (PostgreSQL
with trust auth, which takes any password) are run, successfully and failing (a DSN naming a missing
database), by `dativo run` and by Dagster in-process; the others are validated, compiled and rendered.

Channels checked: `dativo validate` and `dativo run` stdout/stderr and the engine's event log file, Dagster's
event log (every record, with metadata) and Python logs, the Dagster definitions' tags/metadata/descriptions,
the Airflow manifest on disk, the rendered DAGs (doc, description, tags, every task attribute), and under
`airflow dags test` (a real Airflow DB) the task output, Airflow's log files and every XCom value. A bad
secret value (`${` inside a password) is also validated: its error names the field only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO, need_server

pytestmark = pytest.mark.slow

DATIVO = str(Path(sys.executable).parent / "dativo")
PG = "127.0.0.1:5432"
CANARIES = {
    "inline": "cnryINLINE7Qp2w",
    "env": "cnryENV4Kd9zz",
    "file": "cnryFILE8Lm3qq",
    "interpolated": "cnryINTERP2Vx6",
    "dsn_inline": "cnryDSN5Hy1aa",
    "failing": "cnryFAIL9Ub4cc",
    "rest_token": "cnryTOKEN3Fg7",
    "rest_password": "cnryRESTPW6Jn2",
    "s3_key": "cnryS3KEY1Rt5",
    "malformed": "Xk9${Qz!7pLw4",  # a `${` inside a password: an error, which must not quote it
}
# the parts of the malformed one that an error echoing "the reference" would show
LEAKS = [*CANARIES.values(), "Qz!7pLw4", "7pLw4"]
ENV = {"DATIVO_CANARY_ENV": CANARIES["env"], "DATIVO_CANARY_INTERP": CANARIES["interpolated"],
       "DATIVO_CANARY_TOKEN": CANARIES["rest_token"]}
ROWS = 3


def _pg_job(database: str, secret: str) -> str:
    return f"""\
tenant_id: canary
source:
  type: postgres
{secret}
  tables:
    - name: items
target:
  type: iceberg
retry_config: {{max_retries: 0}}
logging: {{level: DEBUG}}
"""


def _jobs(database: str) -> dict[str, str]:
    conn = f"  connection: {{host: 127.0.0.1, user: postgres, database: {database}, password: %s}}"
    return {
        "pg_inline.yaml": _pg_job(database, conn % CANARIES["inline"]),
        "pg_env.yaml": _pg_job(database, conn % "{env: DATIVO_CANARY_ENV}"),
        "pg_file.yaml": _pg_job(database, conn % "{file: pg.secret}"),
        "pg_interpolated.yaml": _pg_job(database, conn % '"${DATIVO_CANARY_INTERP}"'),
        "pg_dsn.yaml": _pg_job(database, f"  dsn: postgresql://postgres:{CANARIES['dsn_inline']}@{PG}/{database}"),
        "pg_failing.yaml": _pg_job(database, f"  dsn: postgresql://postgres:{CANARIES['failing']}@{PG}/no_such_db_{database}"),
        "rest.yaml": f"""\
tenant_id: canary
source:
  type: rest
  base_url: http://127.0.0.1:9/api
  auth: {{type: bearer, token: {{env: DATIVO_CANARY_TOKEN}}}}
  resources: [{{object: things, path: /things}}]
target: {{type: parquet}}
""",
        "rest_basic.yaml": f"""\
tenant_id: canary
source:
  type: rest
  base_url: http://127.0.0.1:9/api
  auth: {{type: basic, username: u, password: {CANARIES['rest_password']}}}
  resources: [{{object: other_things, path: /things}}]
target: {{type: parquet}}
""",
        "s3.yaml": f"""\
tenant_id: canary
source:
  type: csv
  files: [{{path: "s3://bucket/in/*.csv", object: s3_items}}]
  storage: {{endpoint_url: "http://127.0.0.1:9", access_key_id: AKIDCANARY, secret_access_key: {CANARIES['s3_key']}}}
target: {{type: parquet}}
""",
    }


RUNNABLE = ["pg_inline", "pg_env", "pg_file", "pg_interpolated", "pg_dsn"]


@pytest.fixture(scope="module")
def database() -> str:
    """A PostgreSQL database with ROWS rows in `items` (dropped afterwards)."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    name = f"dativo_canary_{uuid.uuid4().hex[:8]}"
    try:
        admin = adbc_pg.connect(f"postgresql://postgres@{PG}/postgres", autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable server
        need_server(f"PostgreSQL on {PG}: {str(exc).splitlines()[0]}")
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    with adbc_pg.connect(f"postgresql://postgres@{PG}/{name}", autocommit=True) as db, db.cursor() as cur:
        cur.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)")
        cur.execute(f"INSERT INTO items SELECT i, 'n' || i FROM generate_series(1, {ROWS}) AS i")
    yield name
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def plant(project: Path, database: str) -> None:
    """The canary jobs, their secret file and one Airflow-owned schedule each, in a copy of the example project."""
    jobs = project / "jobs" / "canary"
    jobs.mkdir()
    for name, text in _jobs(database).items():
        (jobs / name).write_text(text)
    (jobs / "pg.secret").write_text(CANARIES["file"] + "\n")
    runner = project / "configs" / "runner.yaml"
    runner.write_text(runner.read_text() + "".join(
        f"      - name: canary_{stem}\n        config: ../jobs/canary/{stem}.yaml\n        cron: \"0 3 * * *\"\n"
        f"        orchestrator: airflow\n" for stem in [*RUNNABLE, "pg_failing", "rest", "rest_basic", "s3"]))


@pytest.fixture(scope="module")
def project(tmp_path_factory, database) -> Path:
    root = tmp_path_factory.mktemp("canary")
    for folder in ("configs", "jobs"):
        shutil.copytree(REPO / folder, root / folder)
    plant(root, database)
    return root


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **ENV, "DATIVO_RUNNER_CONFIG": str(project / "configs/runner.yaml"),
           "DATIVO_HOME": str(project / ".home"), **extra}
    env.pop("DATIVO_AIRFLOW_MODE", None)
    return env


def _assert_clean(text: str, where: str) -> None:
    found = [canary for canary in LEAKS if canary in text]
    assert not found, f"secret(s) {found} appear in {where}"


def test_canaries_are_planted_where_they_would_be_read(project):
    """Control: the planted values really reach the job files (so the checks below can fail)."""
    text = "".join(p.read_text() for p in (project / "jobs/canary").iterdir())
    assert all(value in text for key, value in CANARIES.items() if key not in ("env", "interpolated", "rest_token",
                                                                                 "malformed"))


def test_validate_output(project):
    done = subprocess.run([DATIVO, "validate"], capture_output=True, text=True, env=_env(project), cwd=project,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "canary_pg_env" in done.stdout
    _assert_clean(done.stdout + done.stderr, "`dativo validate` output")


def test_a_malformed_secret_is_reported_by_field_only(project, tmp_path):
    job = tmp_path / "bad.yaml"
    job.write_text(_jobs("x")["pg_inline.yaml"].replace(CANARIES["inline"], f'"{CANARIES["malformed"]}"'))
    done = subprocess.run([DATIVO, "run", "--config", str(job)], capture_output=True, text=True, env=_env(project),
                          cwd=project, timeout=120)
    assert done.returncode == 2
    assert "source.connection.password: malformed variable reference (in a secret value: not shown)" in done.stderr
    _assert_clean(done.stdout + done.stderr, "the error about a malformed secret")


@pytest.mark.parametrize("stem", [*RUNNABLE, "pg_failing"])
def test_dativo_run_output_and_event_log(project, stem, tmp_path):
    events = tmp_path / "events.jsonl"
    done = subprocess.run([DATIVO, "run", "--json", "--config", f"jobs/canary/{stem}.yaml"], capture_output=True,
                          text=True, env=_env(project, DATIVO_EVENT_LOG=str(events)), cwd=project, timeout=300)
    output = done.stdout + done.stderr
    if stem == "pg_failing":
        assert done.returncode == 2, output
        assert "no_such_db" in output  # the failure is reported (naming the database), without the password
    else:
        assert done.returncode == 0, output
        [result] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert [o["rows_read"] for o in result["objects"]] == [ROWS]
    assert events.read_text().strip(), "the event log file was written"
    _assert_clean(output, f"`dativo run` output of {stem}")
    _assert_clean(events.read_text(), f"the event log of {stem}")


def test_dagster_event_logs_metadata_and_definitions(project, monkeypatch, caplog):
    from dagster import DagsterInstance, materialize

    from dativo_defs.assets import build_job_assets
    from dativo_defs.config.loader import load_job, load_project
    from dativo_defs.definitions import build_definitions

    for key, value in _env(project).items():
        monkeypatch.setenv(key, value)
    caplog.set_level(logging.DEBUG)
    seen = []
    with DagsterInstance.ephemeral() as instance:
        for stem in ["pg_env", "pg_file", "pg_interpolated", "pg_failing"]:
            job = load_job(project / f"jobs/canary/{stem}.yaml")
            result = materialize([build_job_assets(job)], instance=instance, raise_on_error=False)
            assert result.success is (stem != "pg_failing")
            records = instance.all_logs(result.run_id)
            assert records
            seen.append("\n".join(repr(record) for record in records))
    _assert_clean("\n".join(seen), "Dagster's event log (with metadata)")
    _assert_clean("\n".join(r.getMessage() for r in caplog.records), "Python log records")

    defs = build_definitions(load_project(project / "configs/runner.yaml"))
    described = [repr((d.name, d.description, d.tags, d.metadata)) for d in [*defs.schedules, *defs.sensors]]
    described += [repr((j.name, j.description, j.tags)) for j in defs.jobs]
    for assets_def in defs.assets:
        described += [repr((spec.key, spec.description, spec.tags, spec.metadata)) for spec in assets_def.specs]
        described.append(repr(assets_def.node_def.tags))
    assert any("canary_pg_env" in text for text in described)
    _assert_clean("\n".join(described), "the Dagster definitions")


def test_airflow_manifest_and_rendered_dags(project, monkeypatch):
    from airflow_bridge.cache import rebuild_manifest
    from airflow_bridge.render import render_dag
    from airflow_bridge.settings import ExecutionMode, manifest_path

    for key, value in _env(project).items():
        monkeypatch.setenv(key, value)
    manifest = rebuild_manifest()
    assert {d.dag_id for d in manifest.dags} >= {f"canary_{stem}" for stem in RUNNABLE}
    _assert_clean(manifest_path().read_text(), "the Airflow manifest file")
    rendered = []
    for spec in manifest.dags:
        for mode in (ExecutionMode.IN_PROCESS, ExecutionMode.SUBPROCESS):
            dag = render_dag(spec, mode)
            rendered.append(repr((dag.dag_id, dag.doc_md, dag.description, dag.tags, dag.params)))
            rendered += [repr(sorted((k, repr(v)) for k, v in vars(task).items())) for task in dag.tasks]
    _assert_clean("\n".join(rendered), "the rendered Airflow DAGs")


# XCom values and the task instances of every DAG run, read from the Airflow DB.
XCOMS = """
import json
from sqlalchemy import select
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
with create_session() as s:
    print(json.dumps(dict(xcoms=[repr((x.dag_id, x.key, x.value)) for x in s.scalars(select(XComModel))],
                          tis=[(t.dag_id, str(t.state)) for t in s.scalars(select(TaskInstance))])))
"""


def test_airflow_task_logs_and_xcom(tmp_path_factory, database):
    """`airflow dags test` of canary DAGs (in_process mode, a real Airflow DB): the task output, the task log
    files and every XCom value are free of the planted secrets."""
    from tests.airflow.helpers import make_airflow_env

    env = make_airflow_env(tmp_path_factory.mktemp("canary_airflow"))
    plant(env.project, database)
    for args in (["db", "migrate"], ["pools", "set", "dativo_tenant_canary", "1", "canary"]):
        proc = env.airflow(*args, timeout=180)
        assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = []
    for stem in ["pg_env", "pg_interpolated", "pg_failing"]:
        proc = env.airflow("dags", "test", f"canary_{stem}", timeout=240, DATIVO_AIRFLOW_MODE="in_process", **ENV)
        assert (proc.returncode == 0) is (stem != "pg_failing"), proc.stdout[-3000:] + proc.stderr[-3000:]
        outputs.append(proc.stdout + proc.stderr)
    record = env.json_from(XCOMS)
    assert sorted(map(tuple, record["tis"])) == [("canary_pg_env", "success"), ("canary_pg_failing", "failed"),
                                     ("canary_pg_interpolated", "success")]
    assert any("rows_written" in x for x in record["xcoms"]), "the engine metrics reached XCom"
    logs = [path.read_text(errors="replace") for path in env.airflow_home.rglob("*.log")]
    logs += [path.read_text(errors="replace") for path in (env.airflow_home / "logs").rglob("*") if path.is_file()]
    assert any("dativo" in text for text in outputs)
    _assert_clean("\n".join(outputs), "`airflow dags test` output (the task log)")
    _assert_clean("\n".join(logs), "Airflow's log files")
    _assert_clean("\n".join(record["xcoms"]), "XCom values")
