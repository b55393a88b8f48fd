"""The upstream command lines (README/docs of dativo-io/dativo-ingest) through `python -m dativo_ingest.cli` and
`dativo`, and the env / filesystem secret managers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job

from .project import job, upstream_project, write
from .test_dialect import CSV_JOB, PG_JOB

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("DATIVO_APP_ROOT", "PGHOST", "PGPORT", "PGDATABASE", "STATE_DIR", "DATIVO_SECRET_MANAGER",
                "DATIVO_SECRETS_DIR", "DATIVO_SECRET_MANAGER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    root = upstream_project(tmp_path / "repo")
    write(root / "data/people.csv", "id;name;score\n1;ann;1.5\n2;bob;2.5\n3;cid;\n")
    job(root, "jobs/acme/people.yaml", CSV_JOB.replace("{warehouse}", str(tmp_path / "lake")))
    return root


def cli(*args: str, cwd: Path, module: str = "dativo_ingest.cli") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_run_config_self_hosted_through_the_alias_module(app: Path, tmp_path: Path) -> None:
    done = cli("run", "--config", "jobs/acme/people.yaml", "--mode", "self_hosted", "--json", cwd=app)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows_written"] == 3 and result["exit_code"] == 0
    from pyiceberg.catalog import load_catalog

    table = load_catalog("dativo", type="sql", uri=f"sqlite:///{tmp_path / 'home' / 'catalog.db'}").load_table("acme.people")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]
    assert table.properties["finops.cost_center"] == "HR-001"


def test_run_job_dir_tenant_and_cloud_mode(app: Path) -> None:
    job(app, "jobs/acme/orders.yaml", PG_JOB)
    cloud = cli("run", "--job-dir", "jobs/acme", "--mode", "cloud", cwd=app)
    assert cloud.returncode == 2 and "database connector" in cloud.stderr and "orders.yaml" in cloud.stderr
    other = cli("run", "--config", "jobs/acme/people.yaml", "--tenant-id", "globex", cwd=app)
    assert other.returncode == 2 and "not --tenant-id 'globex'" in other.stderr
    both = cli("run", "--config", "jobs/acme/people.yaml", "--job-dir", "jobs/acme", cwd=app)
    assert both.returncode == 2 and "exactly one of" in both.stderr


@pytest.mark.parametrize("manager, words", [("vault", "HashiCorp Vault"), ("gcp", "GCP Secret Manager")])
def test_unsupported_secret_managers_are_refused(app: Path, manager: str, words: str) -> None:
    done = cli("run", "--config", "jobs/acme/people.yaml", "--secret-manager", manager, cwd=app)
    assert done.returncode == 2 and words in done.stderr and "env, filesystem or aws" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_json_and_discover(app: Path) -> None:
    checked = cli("check", "--config", "jobs/acme/people.yaml", "--json", cwd=app)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["ok"] and [c["name"] for c in report["checks"]] == ["config", "source", "target"]
    job(app, "jobs/acme/orders.yaml", PG_JOB.replace("nessie.acme.internal", "127.0.0.1").replace("19120", "9"))
    failing = cli("check", "--config", "jobs/acme/orders.yaml", "--json", cwd=app, module="dativo_defs.cli")
    assert failing.returncode == 2 and not json.loads(failing.stdout)["ok"]
    listed = cli("discover", "--connector", "stripe", cwd=app)
    assert listed.returncode == 0 and listed.stdout.split() == ["customers", "charges", "invoices"]
    refused = cli("discover", "--connector", "markdown_kv", cwd=app)
    assert refused.returncode == 2 and "Markdown-KV" in refused.stderr
    by_job = cli("discover", "--connector", "gdrive_csv", cwd=app)
    assert by_job.returncode == 2 and "use --config JOB" in by_job.stderr
    own = cli("discover", "--config", "jobs/acme/people.yaml", cwd=app)
    assert own.returncode == 0 and own.stdout.split() == ["people"]


def test_validate_through_python_dash_m_has_no_circular_import(tmp_path: Path) -> None:
    write(tmp_path / "configs/runner.yaml", "runner: {orchestrator: {schedules: []}}\n")
    done = cli("validate", "--runner-config", "configs/runner.yaml", cwd=tmp_path, module="dativo_defs.cli")
    assert done.returncode == 0 and "OK: 0 schedule(s)" in done.stdout, done.stderr[-1500:]


def test_filesystem_and_env_secret_managers_fill_database_credentials(app: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    file = job(app, "jobs/acme/orders.yaml", PG_JOB.replace("connection: {user: postgres}", "connection: {port: 5432}"))
    write(tmp_path / "secrets/acme/postgres.env", "PGHOST=db.fs\nPGUSER=reader\nPGPASSWORD=fs-pass\nPGDATABASE=shop\n")
    monkeypatch.setenv("DATIVO_SECRETS_DIR", str(tmp_path / "secrets"))
    conn = load_job(file).config.source.connection
    assert (conn.host, conn.user, conn.database, conn.port) == ("db.fs", "reader", "shop", 5432)
    assert conn.password.resolve() == "fs-pass" and "fs-pass" not in repr(conn)
    monkeypatch.delenv("DATIVO_SECRETS_DIR")
    monkeypatch.setenv("DATIVO_SECRET__ACME__POSTGRES__JSON", json.dumps({"user": "envuser", "password": "env-pass"}))
    monkeypatch.setenv("DATIVO_SECRET__GLOBEX__POSTGRES__JSON", json.dumps({"user": "wrong-tenant"}))
    conn = load_job(file).config.source.connection
    assert (conn.user, conn.password.resolve()) == ("envuser", "env-pass")


@pytest.fixture
def secrets_server(monkeypatch: pytest.MonkeyPatch):
    """moto's server standing in for AWS Secrets Manager on a free loopback port."""
    from moto.server import ThreadedMotoServer

    from tests.engine.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(key, value)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.parametrize("layout", ["per_secret", "bundle"])
def test_aws_secrets_manager_fills_database_credentials(app: Path, secrets_server: str, layout: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=secrets_server)
    config = {"region_name": "eu-west-1", "endpoint_url": secrets_server}
    if layout == "per_secret":
        client.create_secret(Name="acme/postgres", SecretString=json.dumps({"PGUSER": "aws-user", "PGPASSWORD": "aws-pass"}))
        config["secrets"] = ["postgres"]
    else:
        client.create_secret(Name="tenants/acme", SecretString=json.dumps(
            {"postgres": {"user": "aws-user", "password": "aws-pass"}}))
        config["bundle_secret_id_template"] = "tenants/{tenant}"
    monkeypatch.setenv("DATIVO_SECRET_MANAGER", "aws")
    monkeypatch.setenv("DATIVO_SECRET_MANAGER_CONFIG", json.dumps(config))
    file = job(app, "jobs/acme/orders.yaml", PG_JOB.replace("connection: {user: postgres}", "connection: {port: 5432}"))
    conn = load_job(file).config.source.connection
    assert (conn.user, conn.password.resolve()) == ("aws-user", "aws-pass")
    client.delete_secret(SecretId="acme/postgres" if layout == "per_secret" else "tenants/acme", ForceDeleteWithoutRecovery=True)
    from dativo_defs.config.errors import ConfigError

    with pytest.raises(ConfigError, match="secret 'postgres' of tenant 'acme' could not be read: ResourceNotFoundException"):
        load_job(file)


def test_upstream_readme_and_docs_command_lines(app: Path, tmp_path: Path) -> None:
    """Each command line of the upstream README / docs: runs, or gives a clear error (never a traceback)."""
    write(app / "configs/runner.yaml", """
        runner:
          mode: orchestrated
          orchestrator:
            type: dagster
            schedules:
              - {name: people_hourly, config: /app/jobs/acme/people.yaml, cron: "0 * * * *", enabled: true, timezone: UTC}
            concurrency_per_tenant: 1
    """)
    write(tmp_path / "secrets/acme/postgres.env", "PGUSER=postgres\n")
    lines = {
        # README quickstart (the Docker paths under /app map to the project)
        ("run", "--config", "/app/jobs/acme/people.yaml", "--mode", "self_hosted"): 0,
        ("run", "--job-dir", "jobs/acme", "--secret-manager", "filesystem", "--secrets-dir", str(tmp_path / "secrets")): 0,
        ("run", "--config", "jobs/acme/people.yaml", "--secrets-dir", str(tmp_path / "secrets"), "--mode", "self_hosted"): 0,
        ("check", "--config", "jobs/acme/people.yaml", "--mode", "self_hosted", "--verbose"): 0,
        ("check", "--config", "jobs/acme/people.yaml", "--json"): 0,
        ("discover", "--config", "jobs/acme/people.yaml", "--verbose"): 0,
        ("discover", "--connector", "stripe", "--verbose"): 0,
        ("discover", "--connector", "postgres", "--verbose"): 2,  # clear error: needs a job's connection
        ("validate", "--runner-config", "/app/configs/runner.yaml"): 0,
        ("start", "oneshot", "--runner-config", "/app/configs/runner.yaml"): 0,   # every enabled job once
        ("start", "orchestrated", "--runner-config", "/app/configs/missing.yaml"): 2,  # clear error, no server started
        ("--version",): 0,
    }
    for args, expected in lines.items():
        done = cli(*args, cwd=app)
        assert done.returncode == expected, f"{args}: {done.stdout[-800:]}\n{done.stderr[-1500:]}"
        assert "Traceback" not in done.stderr, args
        if expected:
            assert done.stderr.startswith("ERROR ") or "Error:" in done.stderr, (args, done.stderr[-500:])


def test_env_manager_dotenv_payload_and_api_key_secret(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream docs' forms: DATIVO_SECRET__MYTENANT__postgres__env=$'PGHOST=...\\nPGUSER=...' and
    DATIVO_SECRET__<TENANT>__stripe_api_key__text; the README's `source: {object: customers}`."""
    monkeypatch.setenv("DATIVO_SECRET__ACME__postgres__env", "PGHOST=localhost\nPGUSER=pguser\nPGPASSWORD=pw")
    conn = load_job(job(app, "jobs/acme/orders.yaml", PG_JOB.replace("connection: {user: postgres}", "connection: {}"))
                    ).config.source.connection
    assert (conn.host, conn.user, conn.password.resolve()) == ("localhost", "pguser", "pw")
    monkeypatch.setenv("DATIVO_SECRET__ACME__stripe_api_key__text", "sk_test_123")
    stripe = load_job(job(app, "jobs/acme/stripe.yaml", """
        tenant_id: acme
        source_connector: stripe
        source_connector_path: /app/connectors/stripe.yaml
        target_connector: iceberg
        target_connector_path: /app/connectors/iceberg.yaml
        asset: people
        asset_path: /app/assets/people.yaml
        source:
          object: customers
          incremental: {lookback_days: 1}
        target:
          warehouse: lake
    """))
    source = stripe.config.source
    assert [(r.object, r.path) for r in source.resources] == [("customers", "/v1/customers")]
    assert source.auth.token.resolve() == "sk_test_123" and stripe.upstream.cursor_kind == "epoch_seconds"
    assert stripe.upstream.lookback_days == 1


def test_filesystem_manager_defaults_to_the_projects_secrets_folder(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--secret-manager filesystem` without --secrets-dir: upstream's /secrets/{tenant}/<name>.env, mounted as
    <project>/secrets in its image, is found under the app root; the job's `credentials` win over the secret."""
    write(app / "secrets/acme/postgres.env", "PGUSER=from-file\nPGPASSWORD=file-pass\n")
    monkeypatch.setenv("DATIVO_SECRET_MANAGER", "filesystem")
    text = PG_JOB.replace("connection: {user: postgres}", "connection: {}")
    conn = load_job(job(app, "jobs/acme/orders.yaml", text)).config.source.connection
    assert (conn.user, conn.password.resolve()) == ("from-file", "file-pass")
    text = text.replace("connection: {}", "credentials: {user: from-job}\n      connection: {}")
    conn = load_job(job(app, "jobs/acme/orders.yaml", text)).config.source.connection
    assert (conn.user, conn.password.resolve()) == ("from-job", "file-pass")
