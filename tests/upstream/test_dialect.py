"""The upstream job dialect, loaded with upstream's meaning, on this suite's own fixtures (no ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.loader import load_job, load_project
from dativo_defs.config.upstream.dialect import UpstreamCompat
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job

from .project import job, upstream_project, write

CSV_JOB = """
    tenant_id: acme
    source_connector: csv
    source_connector_path: /app/connectors/csv.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: people
    asset_path: /app/assets/people.yaml
    source:
      files:
        - {path: data/people.csv, object: people}
    target:
      warehouse: {warehouse}
    classification_overrides: {name: high_pii, default: pii}
    finops: {cost_center: HR-001, business_tags: [hr, payroll]}
    governance_overrides: {retention_days: 365}
"""

PG_JOB = """
    tenant_id: acme
    source_connector: postgres
    source_connector_path: /app/connectors/postgres.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: pg_orders
    asset_path: /app/assets/orders.yaml
    source:
      tables:
        - {name: public.orders, object: orders}
      incremental: {lookback_days: 3}
      connection: {user: postgres}
    target:
      branch: acme
      warehouse: s3://lake/acme/
      connection:
        nessie: {uri: "http://nessie.acme.internal:19120/api/v1"}
        s3: {bucket: acme-lake, prefix: raw/orders}
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    for var in ("PGHOST", "PGPORT", "PGDATABASE", "S3_ENDPOINT", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return upstream_project(tmp_path / "repo")


def test_csv_job_recipe_app_paths_asset_and_governance(app: Path) -> None:
    loaded = load_job(job(app, "jobs/acme/people.yaml", CSV_JOB.replace("{warehouse}", str(app / "lake"))))
    source, target = loaded.config.source, loaded.config.target
    # /app/... and relative paths map to the folder holding connectors/ (no DATIVO_APP_ROOT set)
    assert source.type == "csv" and source.files[0].path == str(app / "data" / "people.csv")
    assert source.files[0].object == "people"
    # recipe defaults under the job's fields
    assert (source.csv.delimiter, source.csv.quote_char, source.csv.encoding, source.batch_rows) == (";", "'", "utf-8", 5000)
    assert source.incremental is None  # no `incremental:` in the job: read everything, as upstream
    # flat ODCS v3 asset
    contract = loaded.contract
    # (the recipe partitions by ingest_date: the run's date, a column upstream adds, is part of the contract)
    assert [(c.name, c.type.value, c.required) for c in contract.columns] == [
        ("id", "integer", True), ("name", "string", True), ("score", "double", False), ("ingest_date", "date", False)]
    assert contract.all_owners() == ["people@acme.test"]
    # governance as table properties; job overrides win
    assert target.type == "iceberg" and target.catalog.type == "sql" and target.catalog.warehouse == str(app / "lake")
    assert target.table_properties == {
        "classification.default": "pii", "classification.fields.name": "high_pii", "governance.owner": "people@acme.test",
        "governance.retention_days": "365", "finops.cost_center": "HR-001", "finops.business_tags": "hr,payroll"}
    assert [(p.column, p.transform) for p in target.partitioning] == [("ingest_date", "identity")]
    # upstream: no retry_config -> no retries
    assert loaded.config.retry_config.max_retries == 0
    assert loaded.upstream == UpstreamCompat(file=loaded.file, ingest_date=True)


def test_postgres_job_wrapper_asset_nessie_branch_and_first_run_window(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.acme.test")
    monkeypatch.setenv("PGPORT", "5544")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    loaded = load_job(job(app, "jobs/acme/orders.yaml", PG_JOB))
    source, target = loaded.config.source, loaded.config.target
    conn = source.connection
    assert (conn.host, conn.port, conn.database, conn.user) == ("db.acme.test", 5544, None, "postgres")  # PGDATABASE unset
    assert [(t.name, t.object_name) for t in source.tables] == [("public.orders", "orders")]
    # recipe cursor default; lookback_days is upstream's first-run window, never dativo's re-read lookback
    assert source.incremental.cursor_field == "updated_at" and source.incremental.lookback_seconds == 0
    assert loaded.upstream.lookback_days == 3 and loaded.upstream.cursor_kind == "datetime"
    state = loaded.upstream.state_files["orders"]
    assert state.path == app / ".local/state/acme/postgres.orders.state.json" and state.key == "orders.updated_at"
    # nessie + branch -> pyiceberg REST catalog on Nessie's Iceberg endpoint, branch as the prefix
    assert (target.catalog.type, target.catalog.uri, target.catalog.warehouse) == (
        "rest", "http://nessie.acme.internal:19120/iceberg/acme", "s3://lake/acme/")
    assert target.storage.access_key_id.env == "AWS_ACCESS_KEY_ID"  # recipe template -> reference, resolved at run time
    assert target.storage.secret_access_key is None  # its variable is unset: the recipe default is not given
    # the wrapper asset with upstream types
    assert [(c.name, c.type.value) for c in loaded.contract.columns] == [
        ("id", "long"), ("updated_at", "timestamp"), ("amount", "decimal"), ("email", "string"), ("ingest_date", "date")]
    assert target.table_properties["classification.default"] == "sensitive"
    assert target.table_properties["classification.fields.email"] == "pii"
    assert target.table_properties["governance.regulations"] == "SOX"
    assert "default_engine=meltano" in loaded.upstream.unhonoured


def test_s3_and_minio_targets_are_parquet_under_bucket_prefix(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = PG_JOB.split("    target:")[0]
    s3 = load_job(job(app, "jobs/acme/s3.yaml", base.replace("iceberg.yaml", "s3.yaml").replace(
        "target_connector: iceberg", "target_connector: s3") + "    target:\n      connection: {bucket: lake, prefix: raw/o/}\n"))
    assert (s3.config.target.type, s3.config.target.path, s3.config.target.compression) == ("parquet", "s3://lake/raw/o", "snappy")
    assert s3.config.target.storage is None or s3.config.target.storage.endpoint_url is None  # s3.amazonaws.com = AWS default
    monkeypatch.setenv("MINIO_SECRET_KEY", "minio-secret")
    minio = load_job(job(app, "jobs/acme/minio.yaml", base.replace("iceberg.yaml", "minio.yaml").replace(
        "target_connector: iceberg", "target_connector: minio") +
        "    target:\n      connection: {endpoint: 'minio.acme:9000', bucket: lake, prefix: raw/m}\n"))
    storage = minio.config.target.storage
    assert (storage.endpoint_url, storage.path_style_access, storage.secret_access_key.env) == (
        "http://minio.acme:9000", True, "MINIO_SECRET_KEY")


@pytest.mark.parametrize("retry, codes, message, retried", [
    (None, None, "anything", False),                                  # no retry_config: upstream never retries
    ("{}", (1, 2), "connection refused", True),                      # defaults: every failure (exit 2) retried
    ("{retryable_exit_codes: [1]}", (1,), "connection refused", False),
    ("{retryable_error_patterns: ['timeout']}", (1, 2), "read TIMEOUT after 5s", True),   # case-insensitive
    ("{retryable_error_patterns: ['timeout']}", (1, 2), "relation does not exist", False),  # patterns narrow
])
def test_retry_semantics_follow_upstream(app: Path, retry, codes, message, retried) -> None:
    text = CSV_JOB.replace("{warehouse}", "lake") + (f"    retry_config: {retry}\n" if retry else "")
    loaded = load_job(job(app, "jobs/acme/r.yaml", text))
    compat = loaded.upstream
    assert compat.failure_is_retryable(message) is retried
    if retry is None:
        assert loaded.config.retry_config.max_retries == 0
    else:
        cfg = loaded.config.retry_config
        assert (cfg.max_retries, cfg.initial_delay_seconds, cfg.max_delay_seconds, cfg.backoff_multiplier) == (3, 5, 300, 2.0)
        assert compat.retryable_exit_codes == codes
        assert cfg.retryable_error_patterns == []  # never fed to dativo's own classifier (which widens)


@pytest.mark.parametrize("edit, where, words", [
    (("source_connector: csv", "source_connector: markdown_kv"), "source_connector", ["Markdown-KV", "jsonl"]),
    (("{path: data/people.csv, object: people}", "{file_id: 1aB, object: people}"), "source.files[0].file_id",
     ["Google Drive", "gdrive_csv"]),
    # plugins: a malformed spec is refused; a missing plugin file is a validate warning (test_plugins.py)
    (("  files:", "  custom_reader: /app/plugins/r.txt:Reader\n      files:"), "source.custom_reader",
     ["expected 'path/to/module.py:ClassName'", "'path/to/libplugin.so:create_reader' (a Rust library)"]),
    (("target:\n", "target:\n      custom_writer: /app/plugins/libw.so\n"), "target.custom_writer",
     ["expected", "BaseWriter", "create_writer"]),
    (("target:\n", "target:\n      custom_writer: /app/plugins/w.py:Writer\n"), "target.warehouse",
     ["not supported with a writer plugin", "custom_writer, connection, engine, file_format"]),
    (("  files:", "  engine: {type: airbyte}\n      files:"), "source.engine.type", ["Airbyte", "built-in reader"]),
    (("target:\n", "target:\n      file_format: markdown_kv\n"), "target.file_format", ["markdown_kv", "parquet"]),
    (("finops:", "catalog: {type: aws_glue}\n    finops:"), "catalog.type", ["data-catalog push", "openmetadata"]),
    (("asset_path: /app/assets/people.yaml", "asset_path: /app/assets/nested.yaml"), "schema[1].type", ["array", "string"]),
])
def test_unsupported_upstream_features_are_refused_naming_the_alternative(app: Path, edit, where, words) -> None:
    text = CSV_JOB.replace("{warehouse}", "lake").replace(*edit)
    with pytest.raises(ConfigError) as caught:
        load_job(job(app, "jobs/acme/bad.yaml", text))
    issue = caught.value.issues[0]
    assert issue.field_path == where and issue.line is not None, issue
    assert all(w in issue.message for w in words), issue.message


def test_dativo_dialect_keeps_its_own_lookback_meaning(tmp_path: Path) -> None:
    """No upstream marker: `lookback_days` keeps dativo's re-read meaning; nothing upstream applies."""
    file = write(tmp_path / "jobs/j.yaml", """
        tenant_id: acme
        source: {type: sqlite, connection: {database: x.db}, tables: [{name: t, cursor_field: ts}],
                 incremental: {cursor_field: ts, lookback_days: 2}}
        target: {type: parquet}
    """)
    loaded = load_job(file)
    assert loaded.upstream is None and loaded.config.source.incremental.lookback_seconds == 2 * 86400
    assert loaded.config.retry_config.max_retries == 3


def test_upstream_runner_maps_app_job_paths(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATIVO_APP_ROOT", str(app))
    job(app, "jobs/acme/people.yaml", CSV_JOB.replace("{warehouse}", "lake"))
    runner = write(app / "configs/runner.yaml", """
        runner:
          mode: orchestrated
          orchestrator:
            type: dagster
            schedules:
              - {name: people_hourly, config: /app/jobs/acme/people.yaml, cron: "0 * * * *", timezone: UTC,
                 max_concurrent_runs: 1, tags: {environment: production}}
            concurrency_per_tenant: 1
    """)
    project = load_project(runner)
    assert project.ok, project.issues
    [entry] = project.scheduled
    assert entry.job.file == app / "jobs/acme/people.yaml" and entry.job.upstream is not None


def test_any_failure_exits_2_and_is_retried_only_with_retry_config(app: Path) -> None:
    base = CSV_JOB.replace("{warehouse}", str(app / "lake"))  # data/people.csv does not exist
    plain = run_job(load_job(job(app, "jobs/acme/a.yaml", base)), RunContext())
    assert plain.status.value == "failed" and plain.exit_code == 2 and plain.error_kind == "permanent"
    # the path was mapped from the app root, and the hint says so (not "relative to the job file")
    assert str(app / "data/people.csv") in plain.error and "$DATIVO_APP_ROOT" in plain.error
    assert "relative to the job file" not in plain.error
    retrying = run_job(load_job(job(app, "jobs/acme/b.yaml", base + "    retry_config: {max_retries: 2}\n")), RunContext())
    assert retrying.exit_code == 2 and retrying.error_kind == "transient"  # upstream retries exit 2 by default


def test_a_bad_recipe_value_is_reported_with_the_recipe_named(app: Path) -> None:
    recipe = app / "connectors/csv.yaml"
    recipe.write_text(recipe.read_text().replace("chunk_size: 5000", "chunk_size: lots"))
    with pytest.raises(ConfigError) as caught:
        load_job(job(app, "jobs/acme/people.yaml", CSV_JOB.replace("{warehouse}", "lake")))
    [issue] = caught.value.issues
    # (the loader reports it as source.csv.batch_rows: the csv union tag collides with the `csv:` options key)
    assert issue.field_path.endswith("batch_rows") and str(recipe) in issue.message and "'lots'" in issue.message


def test_dialects_are_never_mixed_in_one_file(app: Path) -> None:
    """A file with an upstream marker is read entirely as upstream: dativo's own source shape is refused there."""
    text = CSV_JOB.replace("{warehouse}", "lake").replace("      files:", "      type: csv\n      files:")
    with pytest.raises(ConfigError) as caught:
        load_job(job(app, "jobs/acme/mixed.yaml", text))
    assert [(i.field_path, "unknown field 'type' in an upstream source" in i.message) for i in caught.value.issues] == [
        ("source.type", True)]
