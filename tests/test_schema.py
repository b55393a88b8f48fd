"""The committed JSON Schemas match the models; the examples reference them."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from dativo_defs.cli import main
from dativo_defs.config.schema import SCHEMA_DIR, SCHEMAS, stale_schemas
from tests.conftest import REPO


def test_committed_schemas_are_current():
    assert stale_schemas(SCHEMA_DIR) == [], "run `make schema` (dativo schema) and commit configs/schemas/"


def test_stale_schema_is_detected(tmp_path):
    shutil.copytree(SCHEMA_DIR, tmp_path / "s")
    job_schema = tmp_path / "s" / "job.schema.json"
    data = json.loads(job_schema.read_text())
    data["properties"].pop("tenant_id")
    job_schema.write_text(json.dumps(data))
    assert stale_schemas(tmp_path / "s") == ["job.schema.json"]
    result = CliRunner().invoke(main, ["schema", "--check", "--dir", str(tmp_path / "s")])
    assert result.exit_code == 2 and "job.schema.json" in result.output
    assert CliRunner().invoke(main, ["schema", "--dir", str(tmp_path / "s")]).exit_code == 0
    assert stale_schemas(tmp_path / "s") == []


def test_examples_reference_the_schemas():
    files = [REPO / "configs/runner.yaml", *sorted((REPO / "jobs").glob("*/*.yaml"))]
    assert len(files) >= 7
    for file in files:
        first = file.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), file
        target = (file.parent / first.split("=", 1)[1]).resolve()
        assert target.exists() and target.name in SCHEMAS, file
