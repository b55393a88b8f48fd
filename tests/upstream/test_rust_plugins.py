"""Upstream Rust plugins (`custom_reader: .../libx.so:create_reader`, `custom_writer: .../libx.so:create_writer`)
run over upstream's C ABI with ctypes. The plugin (tests/upstream/rust_plugin, std only) is built once per session
with cargo; without cargo these tests skip locally and fail under CI (DATIVO_REQUIRE_SERVERS=1). The dataset lives
on moto's S3 server (a stand-in for S3), read back with s3fs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.config.warnings import job_warnings
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job
from tests.conftest import need_server

from .project import job, write

CRATE = Path(__file__).parent / "rust_plugin"
LIBRARY = "plugins/rust/target/release/libdativo_test_plugin.so"
JOB = """
    tenant_id: acme
    environment: prod
    source_connector: csv
    source_connector_path: /app/connectors/csv.yaml
    target_connector: s3
    target_connector_path: /app/connectors/s3.yaml
    asset: pairs
    asset_path: /app/assets/pairs.yaml
    source:
      custom_reader: "/app/{library}:{create_reader}"
      files:
        - {{path: "/app/data/a.csv", id: dataset_1}}
        - {{path: "/app/data/b.csv", id: dataset_2}}
      engine: {{options: {{batch_size: 4, delimiter: ","}}}}
    target:
      custom_writer: "/app/{library}:create_writer"
      connection:
        s3: {{bucket: lake, endpoint: "{endpoint}", region: us-east-1, access_key: "${{AWS_ACCESS_KEY_ID}}",
              secret_key: "${{AWS_SECRET_ACCESS_KEY}}"}}
      engine: {{options: {{compression: zstd, fail_writes: {fail}}}}}
    schema_validation_mode: strict
"""
ASSET = """
    asset:
      name: pairs
      source_type: csv
      object: pairs
      version: "1.0"
      schema:
        - {name: id, type: integer, required: true}
        - {name: name, type: string, required: true}
"""
ROWS = {"a.csv": [(i, f"a{i}") for i in range(1, 8)], "b.csv": [(i, f"b{i}") for i in range(100, 105)]}


@pytest.fixture(scope="session")
def rust_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test plugin, built with cargo (offline, std only: about 2 s) into a session folder."""
    cargo = shutil.which("cargo") or (str(Path.home() / ".cargo/bin/cargo")
                                      if (Path.home() / ".cargo/bin/cargo").is_file() else None)
    if cargo is None:
        need_server("cargo (the Rust toolchain) to build the test plugin")
    target = tmp_path_factory.mktemp("rust-target")
    built = subprocess.run([cargo, "build", "--release", "--offline", "--quiet"], cwd=CRATE, capture_output=True,
                           text=True, timeout=300, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    assert built.returncode == 0, built.stderr[-3000:]
    return target / "release" / "libdativo_test_plugin.so"


@pytest.fixture
def app(lake, rust_library: Path):
    app, endpoint, fs = lake
    write(app / "assets/pairs.yaml", ASSET)
    for name, rows in ROWS.items():
        write(app / "data" / name, "id,name\n" + "".join(f"{i},{n}\n" for i, n in rows))
    (app / LIBRARY).parent.mkdir(parents=True)
    shutil.copy(rust_library, app / LIBRARY)
    return app, endpoint, fs


def landed(fs, dataset: str) -> list[dict]:
    """The records of the committed files (the test writer writes JSON arrays); staging and the log excluded."""
    files = [p for p in fs.find(dataset) if "/_" not in p[len(dataset):]]
    return [record for path in sorted(files) for record in json.loads(fs.cat_file(path))]


def test_rust_reader_and_writer_land_every_row_committed_by_dativo(app) -> None:
    app, endpoint, fs = app
    file = job(app, "jobs/acme/rust.yaml", JOB.format(library=LIBRARY, create_reader="create_reader",
                                                       endpoint=endpoint, fail="false"))
    loaded = load_job(file)
    source, target = loaded.config.source, loaded.config.target
    assert (source.type, source.plugin) == ("upstream_plugin", f"{app / LIBRARY}:create_reader")
    assert (target.type, target.plugin, target.path) == ("upstream_writer", f"{app / LIBRARY}:create_writer", "s3://lake")
    assert "testing-secret" not in repr(loaded.config)  # the connection's keys are secrets
    result = run_job(loaded, RunContext())
    assert result.status.value == "success", result.error
    records = landed(fs, "lake/pairs")
    expected = {i: n for rows in ROWS.values() for i, n in rows}
    assert len(records) == len(expected) and {r["id"]: r["name"] for r in records} == expected
    (entry,) = [json.loads(fs.cat_file(p)) for p in fs.find("lake/pairs/_dativo/commits")]
    # batches of 4 from the reader -> one file per batch, numbered by file_counter, committed in one entry
    assert entry["committed_by"] == "dativo" and entry["rows"] == 12 and len(entry["files"]) == 3
    assert (entry["first_file_counter"], entry["next_file_counter"]) == (0, 3)


def test_a_null_from_write_batch_fails_the_run_and_commits_nothing(app) -> None:
    app, endpoint, fs = app
    file = job(app, "jobs/acme/rust.yaml", JOB.format(library=LIBRARY, create_reader="create_reader",
                                                       endpoint=endpoint, fail="true"))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "failed" and result.error_kind == "permanent" and result.exit_code == 2
    assert "target.custom_writer" in result.error and "returned NULL for 4 records" in result.error
    assert landed(fs, "lake/pairs") == [] and not fs.exists("lake/pairs/_dativo/commits")


def test_a_missing_symbol_or_library_fails_naming_the_field(app) -> None:
    app, endpoint, _ = app
    file = job(app, "jobs/acme/rust.yaml", JOB.format(library=LIBRARY, create_reader="make_reader",
                                                       endpoint=endpoint, fail="false"))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "failed" and result.error_kind == "permanent"
    assert "source.custom_reader" in result.error and "does not export the symbol 'make_reader'" in result.error
    (app / LIBRARY).unlink()  # a build artefact not built yet: the file loads, validate warns, the run says so
    loaded = load_job(file)
    assert any("source.custom_reader" in w and "not found" in w for w in job_warnings(loaded))
    result = run_job(loaded, RunContext())
    assert result.error_kind == "permanent" and "source.custom_reader: Rust reader plugin" in result.error
    assert "not found" in result.error and "cargo build --release" in result.error
