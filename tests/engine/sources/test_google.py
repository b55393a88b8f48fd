"""gdrive_csv and google_sheets sources: the real readers and Google's client library against a loopback
stand-in of the Drive v3 / Sheets v4 / OAuth endpoints (google_standin.py); data read back from the target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import read_iceberg

from .google_standin import DriveFile, GoogleStandIn, Spreadsheet


def deals_csv(first: int, last: int) -> bytes:
    return ("deal_id,amount,closed_at\n" + "".join(
        f"D{i:04d},{i * 10.5},2026-01-{1 + i % 28:02d}T10:00:00\n" for i in range(first, last))).encode()


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    api = GoogleStandIn().start()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield api
    api.stop()


def drive_job(write, api: GoogleStandIn, key: Path, files: str, incremental: bool = False) -> Path:
    return write("jobs/acme/deals.yaml", f"""
        tenant_id: acme
        source:
          type: gdrive_csv
          credentials: {{file: {key}}}
          drive_endpoint: {api.url}/drive/v3/
          files: {files}
          {"incremental: {strategy: file_modified_time}" if incremental else ""}
        target: {{type: iceberg}}
    """)


def test_drive_files_and_folders_land_and_only_modified_files_land_again(google, write, tmp_path, dativo_home):
    key = google.key_file(tmp_path)
    google.files["f1"] = DriveFile("f1", "deals.csv", deals_csv(0, 120), parents=("other",))
    for n in range(3):  # a folder of 3 CSV files (paged by 100: one page), a non-CSV and a trashed file
        google.files[f"p{n}"] = DriveFile(f"p{n}", f"part{n}.csv", deals_csv(1000 + n * 50, 1050 + n * 50),
                                          parents=("fold",))
    google.files["x"] = DriveFile("x", "notes.txt", b"hello", mime="text/plain", parents=("fold",))
    google.files["t"] = DriveFile("t", "old.csv", deals_csv(9000, 9010), parents=("fold",), trashed=True)
    job = drive_job(write, google, key, "[{file_id: f1, object: deals}, {folder_id: fold, object: parts}]",
                    incremental=True)
    first = run_job(load_job(job))
    assert first.status is RunStatus.SUCCESS, first.error
    deals = read_iceberg(dativo_home, "acme.deals")
    assert deals.num_rows == 120 and set(deals.column("deal_id").to_pylist()) == {f"D{i:04d}" for i in range(120)}
    assert sorted(deals.column("amount").to_pylist())[:2] == [0.0, 10.5]
    parts = read_iceberg(dativo_home, "acme.parts")
    assert set(parts.column("deal_id").to_pylist()) == {f"D{i:04d}" for i in range(1000, 1150)}

    second = run_job(load_job(job))  # nothing modified: no file is downloaded again
    assert second.status is RunStatus.SUCCESS and second.rows_written == 0
    google.requests.clear()
    google.files["p1"].content = deals_csv(1050, 1060)  # edited in place: a new modifiedTime
    google.files["p1"].modified = "2026-02-01T00:00:00.000Z"
    third = run_job(load_job(job))
    assert third.status is RunStatus.SUCCESS and third.rows_written == 10
    assert read_iceberg(dativo_home, "acme.parts").num_rows == 160
    media = [p for p in google.api_paths() if p.startswith("/drive/v3/files/") and p != "/drive/v3/files"]
    assert "/drive/v3/files/p1" in media and "/drive/v3/files/p0" not in media


def test_a_google_sheets_file_in_drive_is_exported_as_csv(google, write, tmp_path, dativo_home):
    google.spreadsheets["s1"] = Spreadsheet("s1", {"Deals": (0, [])}, csv=deals_csv(0, 7))
    job = drive_job(write, google, google.key_file(tmp_path), "[{file_id: s1, object: deals}]")
    result = run_job(load_job(job))
    assert result.status is RunStatus.SUCCESS, result.error
    assert read_iceberg(dativo_home, "acme.deals").num_rows == 7
    assert "/drive/v3/files/s1/export" in google.api_paths()


VENDORS = [["vendor_id", "name", "email", "rating", "since"],
           *[[f"V{i:03d}", f"Vendor {i}", f"v{i}@acme.test" if i % 3 else "", i % 5, "2025-03-01"]
             for i in range(40)],
           ["V999", "Short row"]]  # Sheets drops trailing empty cells


def sheets_job(write, api: GoogleStandIn, key: Path, sheet: str) -> Path:
    return write("jobs/acme/vendors.yaml", f"""
        tenant_id: acme
        source:
          type: google_sheets
          credentials: {{file: {key}}}
          sheets_endpoint: {api.url}/
          drive_endpoint: {api.url}/drive/v3/
          sheets: [{sheet}]
          incremental: {{strategy: file_modified_time}}
        target: {{type: iceberg}}
    """)


def test_a_sheet_by_gid_lands_typed_and_is_read_again_only_when_modified(google, write, tmp_path, dativo_home):
    google.spreadsheets["book"] = Spreadsheet("book", {"Intro": (0, [["x"]]), "Vendor's list": (7, VENDORS)})
    job = sheets_job(write, google, google.key_file(tmp_path), "{spreadsheet_id: book, sheet_id: 7, object: vendors}")
    first = run_job(load_job(job))
    assert first.status is RunStatus.SUCCESS, first.error
    vendors = read_iceberg(dativo_home, "acme.vendors")
    assert vendors.num_rows == 41 and set(vendors.column("vendor_id").to_pylist()) == \
        {f"V{i:03d}" for i in range(40)} | {"V999"}
    assert vendors.schema.field("rating").type == "int64"
    rows = {r["vendor_id"]: r for r in vendors.to_pylist()}
    assert rows["V000"]["email"] is None and rows["V999"]["rating"] is None  # "" and a missing cell: null
    assert run_job(load_job(job)).rows_written == 0  # unchanged spreadsheet: not read
    google.spreadsheets["book"].modified = "2026-03-01T00:00:00.000Z"
    assert run_job(load_job(job)).rows_written == 41  # modified: read again wholly (upstream's meaning)


def test_a_range_of_a_sheet_by_title(google, write, tmp_path, dativo_home):
    google.spreadsheets["book"] = Spreadsheet("book", {"Vendors": (3, VENDORS)})
    job = sheets_job(write, google, google.key_file(tmp_path),
                     "{spreadsheet_id: book, sheet: Vendors, range: 'A1:B11', object: vendors}")
    result = run_job(load_job(job))
    assert result.status is RunStatus.SUCCESS, result.error
    landed = read_iceberg(dativo_home, "acme.vendors")
    assert landed.column_names == ["vendor_id", "name"] and landed.num_rows == 10


def test_missing_key_file_and_unknown_ids_are_clear_errors_and_the_key_never_shows(google, write, tmp_path,
                                                                                   dativo_home, capsys):
    missing = drive_job(write, google, tmp_path / "nope.json", "[{file_id: f1, object: deals}]")
    result = run_job(load_job(missing))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert "source.credentials" in result.error and "nope.json" in result.error
    key = google.key_file(tmp_path)
    unknown = drive_job(write, google, key, "[{file_id: nope, object: deals}]")
    result = run_job(load_job(unknown))
    assert result.status is RunStatus.FAILED and "404" in result.error and "nope" in result.error
    private = json.loads(key.read_text())["private_key"].splitlines()[1]
    out = capsys.readouterr()
    assert private not in out.out + out.err + result.error
    assert all(t not in out.out + out.err for t in google.tokens)


def test_a_wrong_key_is_an_authentication_error(google, write, tmp_path, dativo_home):
    other = GoogleStandIn()  # another key pair: the stand-in refuses the assertion's signature
    bad = other.key_file(tmp_path, token_uri=f"{google.url}/token", name="other.json")
    google.files["f1"] = DriveFile("f1", "deals.csv", deals_csv(0, 3))
    result = run_job(load_job(drive_job(write, google, bad, "[{file_id: f1, object: deals}]")))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent"
    assert "invalid_grant" in result.error, result.error


def test_dativo_check_reports_the_key_and_the_files(google, write, tmp_path, dativo_home):
    from click.testing import CliRunner

    from dativo_defs.cli import main

    google.files["f1"] = DriveFile("f1", "deals.csv", deals_csv(0, 3))
    ok = drive_job(write, google, google.key_file(tmp_path), "[{file_id: f1, object: deals}]")
    done = CliRunner().invoke(main, ["check", "--config", str(ok), "--json"])
    checks = {c["name"]: c for c in json.loads(done.output)["checks"]}
    assert done.exit_code == 0 and checks["source"]["detail"] == "1 Drive file(s) visible to the service account"
    google.spreadsheets["book"] = Spreadsheet("book", {"Vendors": (3, VENDORS)})
    missing = sheets_job(write, google, google.key_file(tmp_path), "{spreadsheet_id: book, sheet_id: 9, object: v}")
    done = CliRunner().invoke(main, ["check", "--config", str(missing), "--json"])
    checks = {c["name"]: c for c in json.loads(done.output)["checks"]}
    assert done.exit_code == 2 and "no sheet with sheet_id 9" in checks["source"]["detail"]
