"""Rules of the job file, including the field names Dativo job files used."""

from __future__ import annotations

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.job import SchemaValidationMode
from dativo_defs.config.loader import load_job
from dativo_defs.config.sources import FileSource, SqlSource


def test_minimal_job_and_defaults(write, valid_job_text):
    job = load_job(write("jobs/acme/orders.yaml", valid_job_text))
    assert job.name == "orders" and job.tenant_id == "acme" and job.objects == ["x"]
    cfg = job.config
    assert cfg.schema_validation_mode is SchemaValidationMode.STRICT
    r = cfg.retry_config
    assert (r.max_retries, r.initial_delay_seconds, r.max_delay_seconds, r.backoff_multiplier) == (3, 5, 300, 2.0)
    assert r.retryable_exit_codes == [3] and r.retryable_error_patterns == []
    assert (cfg.logging.redaction, cfg.logging.level) == (True, "INFO")


def test_retry_curve_is_capped(write, valid_job_text):
    job = load_job(write("j.yaml", valid_job_text + "retry_config: {initial_delay_seconds: 2, backoff_multiplier: 3, max_delay_seconds: 30}\n"))
    assert [job.config.retry_config.delay_before_retry(n) for n in (1, 2, 3, 4)] == [2, 6, 18, 30]


def test_unknown_field_is_rejected_with_a_hint_and_line(write, valid_job_text):
    path = write("j.yaml", valid_job_text + "schema_validaton_mode: warn\n")
    with pytest.raises(ConfigError) as info:
        load_job(path)
    [issue] = info.value.issues
    assert issue.message == "unknown field 'schema_validaton_mode' (did you mean 'schema_validation_mode'?)"
    assert issue.line == 8 and issue.file == str(path)


def test_unknown_field_inside_a_typed_source(write):
    path = write("j.yaml", """
        tenant_id: acme
        source:
          type: postgres
          tables: [{name: orders}]
          conection: {host: db}
        target: {type: iceberg}
    """)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    [issue] = info.value.issues
    assert issue.field_path == "source.conection" and issue.line == 5
    assert "did you mean 'connection'" in issue.message


def test_unknown_source_type_lists_the_known_ones(write):
    path = write("j.yaml", "tenant_id: a\nsource: {type: excel}\ntarget: {type: iceberg}\n")
    with pytest.raises(ConfigError) as info:
        load_job(path)
    assert "unknown type 'excel'" in str(info.value) and "'postgres'" in str(info.value)


def test_bad_regex_in_retry_patterns(write, valid_job_text):
    path = write("j.yaml", valid_job_text + "retry_config: {retryable_error_patterns: ['(unclosed']}\n")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        load_job(path)


def test_dativo_field_names_are_accepted(write):
    """A job written for Dativo (source_connector, tables[].object, lookback_days, file_format, asset_path,
    retry_delay_seconds, retryable_errors) loads with the same meaning."""
    write("assets/orders.yaml", """
        apiVersion: v3.0.2
        kind: DataContract
        name: orders
        source_type: postgres
        object: db_orders
        schema:
          - {name: id, type: integer, required: true}
        team: {owner: data@acme.test}
    """)
    job = load_job(write("jobs/acme/pg.yaml", """
        tenant_id: acme
        environment: prod
        source_connector: postgres
        target_connector: iceberg
        asset_path: ../../assets/orders.yaml
        source:
          tables:
            - name: public.orders
              object: db_orders
              cursor_field: updated_at
          incremental:
            cursor_field: updated_at
            lookback_days: 1
          connection: {host: db.internal, port: 5432, database: shop}
        target: {}
        retry_config: {retry_delay_seconds: 7, retryable_errors: ["timeout"]}
        logging: {redaction: true, level: info}
    """))
    source = job.config.source
    assert isinstance(source, SqlSource) and source.type == "postgres" and job.objects == ["db_orders"]
    assert source.incremental.lookback_seconds == 86400
    assert job.config.target.type == "iceberg"
    assert job.contract.columns[0].name == "id" and job.contract.all_owners() == ["data@acme.test"]
    assert job.config.retry_config.initial_delay_seconds == 7
    assert job.config.retry_config.retryable_error_patterns == ["timeout"]
    assert job.config.logging.level == "INFO"


def test_file_format_names_the_target(write):
    job = load_job(write("j.yaml", """
        tenant_id: acme
        source: {type: jsonl, files: [{path: x.jsonl, object: events}]}
        target: {file_format: parquet}
    """))
    assert job.config.target.type == "parquet" and isinstance(job.config.source, FileSource)


def test_odcs_v3_object_schema_form(write):
    job = load_job(write("j.yaml", """
        tenant_id: acme
        source: {type: csv, files: [{path: x.csv}]}
        target: {type: iceberg}
        contract:
          schema:
            - name: x
              properties:
                - {name: id, logicalType: integer, required: true, primaryKey: true}
                - {name: email, logicalType: string, classification: PII}
    """))
    assert [c.name for c in job.contract.columns] == ["id", "email"]
    assert job.contract.primary_key == ["id"]


def test_missing_contract_file_points_at_the_job_field(write, valid_job_text):
    path = write("j.yaml", valid_job_text + "contract: contracts/none.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_job(path)
    [issue] = info.value.issues
    assert issue.field_path == "contract" and issue.line == 8 and "none.yaml not found" in issue.message


def test_secrets_are_references_and_never_printed(write, monkeypatch):
    monkeypatch.setenv("PG_PASS", "canary-s3cr3t")
    job = load_job(write("j.yaml", """
        tenant_id: acme
        source:
          type: postgres
          tables: [{name: t}]
          connection: {host: h, password: {env: PG_PASS}}
        target: {type: iceberg}
    """))
    password = job.config.source.connection.password
    assert password.describe() == "env:PG_PASS"
    assert "canary" not in repr(job.config) and "canary" not in str(job.config.model_dump())
    assert password.resolve() == "canary-s3cr3t"


def test_secret_needs_exactly_one_reference(write):
    path = write("j.yaml", """
        tenant_id: acme
        source:
          type: postgres
          tables: [{name: t}]
          connection: {password: {env: A, file: /b}}
        target: {type: iceberg}
    """)
    with pytest.raises(ConfigError, match="exactly one of `env: VAR_NAME` or `file"):
        load_job(path)


def test_sql_identifiers_and_names(write):
    path = write("j.yaml", """
        tenant_id: "acme; drop"
        source: {type: sqlite, connection: {database: x.db}, tables: [{query: "select 1", object: "a-b"}]}
        target: {type: iceberg}
    """)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    paths = {i.field_path for i in info.value.issues}
    assert paths == {"tenant_id", "source.tables[0].object"}
