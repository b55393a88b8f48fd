"""Upstream `gdrive_csv` / `google_sheets` jobs and the `catalog:` block, with upstream's meaning, on this suite's
own fixtures (no ../shared): field mapping, where the service-account key comes from, and runs against the
loopback Google / OpenMetadata stand-ins with the data read back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dativo_defs.config.loader import Job, load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.events import listening
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import read_iceberg
from tests.engine.openmetadata_standin import OpenMetadataStandIn
from tests.engine.sources.google_standin import DriveFile, GoogleStandIn, Spreadsheet

from .project import job, upstream_project, write
from .test_dialect import CSV_JOB

GDRIVE_JOB = """
    tenant_id: acme
    environment: prod
    source_connector: gdrive_csv
    source_connector_path: /app/connectors/gdrive_csv.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: gdrive_deals_daily
    asset_path: /app/assets/deals.yaml
    source:
      files:
        - file_id: 1a2B3cGDRIVEID
          object: deals_daily
      incremental:
        lookback_days: 0
    target:
      warehouse: {warehouse}
"""

GSHEETS_JOB = """
    tenant_id: acme
    source_connector: google_sheets
    source_connector_path: /app/connectors/google_sheets.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: vendors
    asset_path: /app/assets/people.yaml
    source:
      sheets:
        - {spreadsheet_id: 1AbcDEFsheetID, sheet_id: 0, object: vendors_master}
        - {id: 2nd, sheet: Q1, range: "A1:C9", has_header: false, object: other}
      incremental: {lookback_days: 0}
    target:
      warehouse: lake
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "GDRIVE_CREDENTIALS_PATH", "GSHEETS_CREDENTIALS_PATH", "STATE_DIR",
                "DATIVO_SECRETS_DIR", "DATIVO_SECRET_MANAGER", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_REGION",
                "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return upstream_project(tmp_path / "repo")


@pytest.fixture
def google():
    api = GoogleStandIn().start()
    yield api
    api.stop()


def on(loaded: Job, endpoint: str) -> Job:
    """The loaded job with its Drive API pointed at the stand-in (upstream files cannot name an endpoint)."""
    source = loaded.config.source.model_copy(update={"drive_endpoint": endpoint})
    return dataclasses.replace(loaded, config=loaded.config.model_copy(update={"source": source}))


def test_gdrive_job_maps_file_ids_and_reads_the_key_from_the_secrets_dir(app, google, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    (secrets / "acme").mkdir(parents=True)
    google.key_file(secrets / "acme", name="gdrive.json")
    monkeypatch.setenv("DATIVO_SECRETS_DIR", str(secrets))  # what --secrets-dir sets
    loaded = load_job(job(app, "jobs/acme/deals.yaml", GDRIVE_JOB.replace("{warehouse}", str(app / "lake"))))
    source = loaded.config.source
    assert source.type == "gdrive_csv" and [(f.file_id, f.object) for f in source.files] == [
        ("1a2B3cGDRIVEID", "deals_daily")]
    # /secrets/{tenant}/gdrive.json through the filesystem secret manager: the key's JSON, a hidden inline secret
    assert json.loads(source.credentials.resolve()) == json.loads((secrets / "acme" / "gdrive.json").read_text())
    assert source.incremental.strategy.value == "file_modified_time" and loaded.upstream.lookback_days == 0
    google.files["1a2B3cGDRIVEID"] = DriveFile("1a2B3cGDRIVEID", "deals.csv", b"deal_id,amount,closed_at\n" + b"".join(
        f"D{i},{i}.5,2026-01-02T03:04:05\n".encode() for i in range(30)))
    result = run_job(on(loaded, f"{google.url}/drive/v3/"))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = read_iceberg(Path(str(tmp_path / "home")), "acme.deals_daily")
    assert landed.num_rows == 30 and set(landed.column("deal_id").to_pylist()) == {f"D{i}" for i in range(30)}
    assert "ingest_date" in landed.column_names  # the recipe partitions by upstream's ingest_date
    assert run_job(on(loaded, f"{google.url}/drive/v3/")).rows_written == 0  # unmodified: skipped


def test_gdrive_without_a_key_fails_naming_where_upstream_looks(app, google):
    loaded = load_job(job(app, "jobs/acme/deals.yaml", GDRIVE_JOB.replace("{warehouse}", "lake")))
    assert loaded.config.source.credentials.file == "/secrets/acme/gdrive.json"
    result = run_job(on(loaded, f"{google.url}/drive/v3/"))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent" and result.failure_exit_code == 2
    assert "source.credentials" in result.error and "/secrets/acme/gdrive.json" in result.error
    assert google.requests == []


def test_gsheets_job_maps_sheets_and_takes_the_key_from_the_env_manager(app, google, monkeypatch):
    key = json.loads(google.key_file(app).read_text())
    monkeypatch.setenv("DATIVO_SECRET__ACME__GSHEETS__JSON", json.dumps(key))
    loaded = load_job(job(app, "jobs/acme/vendors.yaml", GSHEETS_JOB))
    sheets = loaded.config.source.sheets
    assert [(s.spreadsheet_id, s.sheet_id, s.sheet, s.range, s.header, s.object) for s in sheets] == [
        ("1AbcDEFsheetID", 0, None, None, True, "vendors_master"), ("2nd", None, "Q1", "A1:C9", False, "other")]
    assert json.loads(loaded.config.source.credentials.resolve())["private_key"] == key["private_key"]
    assert "hidden" in repr(loaded.config.source.credentials)
    google.spreadsheets["1AbcDEFsheetID"] = Spreadsheet("1AbcDEFsheetID", {"Vendors": (0, [
        ["id", "name", "score"], *[[i, f"v{i}", i / 4] for i in range(12)]])})
    source = loaded.config.source.model_copy(update={"drive_endpoint": f"{google.url}/drive/v3/", "sheets": sheets[:1],
                                                     "sheets_endpoint": f"{google.url}/"})
    result = run_job(dataclasses.replace(loaded, config=loaded.config.model_copy(update={"source": source})))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = read_iceberg(Path(str(app.parent / "home")), "acme.vendors_master")
    assert landed.num_rows == 12 and sorted(landed.column("id").to_pylist()) == list(range(12))
    assert landed.column("score").to_pylist()[:2] == [0.0, 0.25]


CATALOG = """
    catalog:
      type: openmetadata
      connection:
        api_url: "{url}"
        auth_token: "${OPENMETADATA_AUTH_TOKEN}"
      database: acme_data
      table_name: employees
      push_lineage: true
      push_metadata: true
"""


def test_catalog_block_pushes_the_table_to_openmetadata_after_the_commit(app, monkeypatch, capfd):
    token = "om-CANARY-token-8c2e"
    monkeypatch.setenv("OPENMETADATA_AUTH_TOKEN", token)
    om = OpenMetadataStandIn(token, users={"people": "u-9"},
                             tags={"source-type:csv", "classification:PII", "hr", "payroll-x"}).start()
    try:
        write(app / "data/people.csv", "id;name;score\n" + "".join(f"{i};p{i};{i}.25\n" for i in range(8)))
        file = job(app, "jobs/acme/people.yaml",
                   CSV_JOB.replace("{warehouse}", str(app / "lake")) + CATALOG.replace("{url}", om.url))
        loaded = load_job(file)
        catalog = loaded.config.data_catalog
        assert (catalog.type, catalog.api_url, catalog.database, catalog.table_name, catalog.push_metadata) == (
            "openmetadata", om.url, "acme_data", "employees", True)
        assert "catalog.push_lineage" in loaded.upstream.unhonoured  # lineage: not pushed (docs/MIGRATING.md)
        events: list[str] = []
        with listening(lambda e: events.append(e.line)):
            result = run_job(loaded)
        assert result.status is RunStatus.SUCCESS, result.error
        [table] = om.bodies("/api/v1/tables")
        assert table["name"] == "employees" and table["databaseSchema"] == "dativo-ingest.acme_data.default"
        assert [(c["name"], c["dataType"]) for c in table["columns"]] == [
            ("id", "INT"), ("name", "STRING"), ("score", "DOUBLE"), ("ingest_date", "DATE")]
        assert table["owners"] == [{"id": "u-9", "type": "user"}]  # people@acme.test -> user `people`
        # upstream's tags: the asset's source type and classification, the job's finops (known ones only)
        assert [t["tagFQN"] for t in table["tags"]] == ["source-type:csv", "classification:PII", "hr"]
        out = capfd.readouterr()
        assert token not in out.out + out.err + "".join(events)
    finally:
        om.stop()
