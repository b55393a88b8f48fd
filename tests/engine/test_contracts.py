"""Data contracts: strict rejects with offending columns and sample rows; warn lands and counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import iceberg_catalog, read_iceberg

CONTRACT = """
contract:
  schema:
    - {name: id, type: long, required: true, primaryKey: true}
    - {name: amount, type: double, required: true}
    - {name: note, type: string}
"""


@pytest.fixture
def job_file(write, dativo_home):
    def make(mode: str, rows: str) -> Path:
        (dativo_home.parent / "data").mkdir(parents=True, exist_ok=True)
        (dativo_home.parent / "data/rows.csv").write_text("id,amount,note\n" + rows)
        return write("jobs/t3/rows.yaml", f"""
            tenant_id: t3
            source: {{type: csv, files: [{{path: ../../data/rows.csv}}]}}
            target: {{type: iceberg}}
            schema_validation_mode: {mode}
        """ + CONTRACT.replace("\n", "\n            "))
    return make


GOOD = "1,10.5,a\n2,20,b\n"
BAD = "1,10.5,a\n2,,missing amount\n3,abc,not a number\n4,4.0,ok\n"


def test_valid_data_is_cast_to_the_contract_types(job_file, dativo_home):
    result = run_job(load_job(job_file("strict", GOOD)))
    assert result.status is RunStatus.SUCCESS and result.objects[0].violations == {}
    schema = iceberg_catalog(dativo_home).load_table("t3.rows").schema()
    assert [(f.name, str(f.field_type)) for f in schema.fields] == [("id", "long"), ("amount", "double"),
                                                                     ("note", "string")]


def test_strict_rejects_the_run_and_names_columns_and_rows(job_file, dativo_home):
    result = run_job(load_job(job_file("strict", BAD)))
    assert result.status is RunStatus.FAILED and result.error_kind == "permanent" and result.exit_code == 2
    assert "amount: null in required column" in result.error and "amount: not a valid double" in result.error
    assert "missing amount" in result.error  # a sample row
    assert not iceberg_catalog(dativo_home).load_table("t3.rows").current_snapshot()


def test_warn_lands_the_data_and_reports_counts(job_file, dativo_home):
    result = run_job(load_job(job_file("warn", BAD)))
    assert result.status is RunStatus.PARTIAL and result.exit_code == 1
    assert result.objects[0].violations == {"amount: null in required column": 2, "amount: not a valid double": 1}
    rows = sorted(read_iceberg(dativo_home, "t3.rows").to_pylist(), key=lambda r: r["id"])
    assert [r["amount"] for r in rows] == [10.5, None, None, 4.0]


def test_cli_exit_codes(job_file, tmp_path):
    dativo = str(Path(sys.executable).parent / "dativo")
    assert subprocess.run([dativo, "run", "--config", str(job_file("warn", BAD))], capture_output=True).returncode == 1
    assert subprocess.run([dativo, "run", "--config", str(job_file("strict", BAD))], capture_output=True).returncode == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenant_id: t3\nsource: {type: csv}\n")
    result = subprocess.run([dativo, "run", "--config", str(broken)], capture_output=True, text=True)
    assert result.returncode == 2 and "source.files: required field is missing" in result.stderr
    assert "Traceback" not in result.stderr
