"""Upstream Python writer plugins (`target.custom_writer: /app/plugins/x.py:Class`, a BaseWriter subclass from
`dativo_ingest.plugins`): write_batch per batch, then commit_files, with upstream's arguments. A writer that keeps
BaseWriter's commit_files has its files committed by dativo with the incremental state (exactly once); one that
overrides it commits itself, and dativo records the state only after it returned (at least once). The dataset
lives on moto's S3 server (a stand-in for S3)."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job

from .project import job, write

PLUGINS = '''
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import s3fs

from dativo_ingest.plugins import BaseWriter


class ParquetParts(BaseWriter):
    """Keeps BaseWriter's commit_files: dativo commits the files it returns."""

    def write_batch(self, records, file_counter):
        assert [c["name"] for c in self.asset_definition.schema] == ["id", "name", "score"]
        os.makedirs(self.output_base, exist_ok=True)
        path = os.path.join(self.output_base, f"part-{file_counter:05d}.parquet")
        pq.write_table(pa.Table.from_pylist(records), path)
        return [{"path": path, "size_bytes": os.path.getsize(path), "record_count": len(records)}]


class JsonLinesWithManifest(BaseWriter):
    """In the shape of upstream's examples/plugins/json_file_writer.py: writes to S3 itself and commits with a
    manifest (engine.options.fail_commit makes the commit fail)."""

    def __init__(self, asset_definition, target_config, output_base):
        super().__init__(asset_definition, target_config, output_base)
        s3 = target_config.connection["s3"]
        self.fs = s3fs.S3FileSystem(key=s3["access_key"], secret=s3["secret_key"], skip_instance_cache=True,
                                    client_kwargs={"endpoint_url": s3["endpoint"], "region_name": s3["region"]})
        self.options = target_config.engine.get("options", {})

    def check_connection(self):
        from dativo_ingest.plugins import ConnectionTestResult

        bucket = self.output_base.removeprefix("s3://").split("/")[0]
        if self.fs.exists(bucket):
            return ConnectionTestResult(success=True, message=f"S3 bucket accessible: {bucket}")
        return ConnectionTestResult(success=False, message=f"S3 bucket not found: {bucket}",
                                    error_code="RESOURCE_NOT_FOUND")

    def write_batch(self, records, file_counter):
        path = f"{self.output_base}/part-{file_counter:05d}.jsonl"
        self.fs.pipe_file(path, "".join(json.dumps(r, default=str) + "\\n" for r in records).encode())
        return [{"path": path, "record_count": len(records)}]

    def commit_files(self, file_metadata):
        if self.options.get("fail_commit"):
            raise ConnectionError("manifest upload failed: connection reset by peer")
        self.fs.pipe_file(f"{self.output_base}/_manifest.json", json.dumps({"files": file_metadata}).encode())
        return {"status": "success", "files_added": len(file_metadata)}
'''

JOB = """
    tenant_id: acme
    environment: prod
    source_connector: csv
    source_connector_path: /app/connectors/csv.yaml
    target_connector: custom_storage
    target_connector_path: /app/connectors/s3.yaml
    asset: people
    asset_path: /app/assets/people.yaml
    source:
      files: [{{path: data/people.csv, object: people}}]
      incremental: {{}}
    target:
      custom_writer: "/app/plugins/writers.py:{cls}"
      connection:
        s3: {{bucket: lake, prefix: raw, endpoint: "{endpoint}", region: us-east-1,
              access_key: "${{AWS_ACCESS_KEY_ID}}", secret_key: "${{AWS_SECRET_ACCESS_KEY}}"}}
      engine: {{options: {{format: jsonl, fail_commit: {fail}}}}}
"""


@pytest.fixture
def app(lake):
    app, endpoint, fs = lake
    write(app / "data/people.csv", "id;name;score\n1;ann;1.5\n2;bob;2.5\n3;cid;\n")
    write(app / "plugins/writers.py", PLUGINS)
    return app, endpoint, fs


def entries(fs, dataset: str) -> list[dict]:
    fs.invalidate_cache()
    return [json.loads(fs.cat_file(p)) for p in sorted(fs.find(f"{dataset}/_dativo/commits"))]


def test_a_writer_without_its_own_commit_has_its_files_committed_by_dativo_with_the_state(app) -> None:
    app, endpoint, fs = app
    file = job(app, "jobs/acme/parts.yaml", JOB.format(cls="ParquetParts", endpoint=endpoint, fail="false"))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "success", result.error
    table = ds.dataset("lake/raw/people", filesystem=fs, format="parquet").to_table()  # `_`-prefixed paths skipped
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]
    (entry,) = entries(fs, "lake/raw/people")
    assert entry["committed_by"] == "dativo" and entry["rows"] == 3 and entry["state"]
    assert [f"lake/raw/people/{name}" for name in entry["files"]] == [
        p for p in fs.find("lake/raw/people") if p.endswith(".parquet")]
    again = run_job(load_job(file), RunContext())  # the committed state: the file is not read again
    assert again.status.value == "success" and again.rows_written == 0 and len(entries(fs, "lake/raw/people")) == 1


def test_a_writer_that_commits_itself_gets_the_state_recorded_after_its_commit(app) -> None:
    app, endpoint, fs = app
    file = job(app, "jobs/acme/manifest.yaml", JOB.format(cls="JsonLinesWithManifest", endpoint=endpoint, fail="true"))
    failed = run_job(load_job(file), RunContext())
    # no retry_config: upstream never retries, whatever the error (dativo's own kind of it: see the test below)
    assert failed.status.value == "failed" and failed.error_kind == "permanent"
    assert "target.custom_writer" in failed.error and "commit_files raised ConnectionError" in failed.error
    assert "testing-secret" not in failed.error and not fs.exists("lake/raw/people/_dativo/commits")  # no state
    file.write_text(file.read_text().replace("fail_commit: true", "fail_commit: false"))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "success", result.error
    (entry,) = entries(fs, "lake/raw/people")
    assert entry["committed_by"] == "plugin" and entry["state"] and entry["files"] == []
    assert entry["plugin_commit"] == {"status": "success", "files_added": 1}
    # the retry reused the failed run's file_counter: its file was replaced, not duplicated
    assert entry["plugin_files"] == ["s3://lake/raw/people/part-00000.jsonl"]
    manifest = json.loads(fs.cat_file("lake/raw/people/_manifest.json"))
    rows = [json.loads(line) for line in fs.cat_file("lake/raw/people/part-00000.jsonl").decode().splitlines()]
    assert [m["path"] for m in manifest["files"]] == entry["plugin_files"] and [r["id"] for r in rows] == [1, 2, 3]
    again = run_job(load_job(file), RunContext())
    assert again.status.value == "success" and again.rows_written == 0


def test_a_plugin_file_without_the_class_fails_naming_the_field(app) -> None:
    app, endpoint, _ = app
    file = job(app, "jobs/acme/nothing.yaml", JOB.format(cls="Missing", endpoint=endpoint, fail="false"))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "failed" and result.error_kind == "permanent"
    assert "target.custom_writer: writer plugin" in result.error and "Missing is not found" in result.error
    assert "a BaseWriter subclass" in result.error


def test_dativo_check_uses_the_writers_own_check_connection(app) -> None:
    from click.testing import CliRunner

    from dativo_defs.cli import main

    app, endpoint, fs = app
    file = job(app, "jobs/acme/manifest.yaml", JOB.format(cls="JsonLinesWithManifest", endpoint=endpoint, fail="false"))
    checked = CliRunner().invoke(main, ["check", "--config", str(file), "--json"])
    target = [c for c in json.loads(checked.output)["checks"] if c["name"] == "target"]
    assert checked.exit_code == 0 and target == [{"name": "target", "ok": True, "detail": "S3 bucket accessible: lake"}]
    file.write_text(file.read_text().replace("bucket: lake", "bucket: nowhere"))
    refused = CliRunner().invoke(main, ["check", "--config", str(file), "--json"])
    assert refused.exit_code == 2 and "S3 bucket not found: nowhere" in refused.output
    assert "testing-secret" not in refused.output


def test_what_a_plugin_raises_keeps_its_kind_and_names_the_field() -> None:
    from dativo_defs.engine.errors import ErrorKind, classify
    from dativo_defs.engine.targets.upstream_writer import _call

    def reset() -> None:
        raise ConnectionError("connection reset by peer")

    def broken() -> None:
        raise ValueError("unsupported type")

    for function, kind in ((reset, ErrorKind.TRANSIENT), (broken, ErrorKind.PERMANENT)):
        with pytest.raises(Exception) as caught:
            _call("write_batch", "/app/plugins/w.py:W", function)
        assert classify(caught.value) is kind and str(caught.value).startswith("target.custom_writer: /app/plugins/w.py:W")
