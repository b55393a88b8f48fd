"""`dativo preview` shows rows and writes nothing; `dativo show` reports what a table holds and its jobs' state."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

DATIVO = str(Path(sys.executable).parent / "dativo")


def _dativo(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DATIVO, *args], cwd=project, capture_output=True, text=True, timeout=180)


def _fingerprint(home: Path) -> dict[str, str]:
    """Every file under DATIVO_HOME except the sample source, with a content hash."""
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file() and "sample" not in p.parts}


def _sample_ids(project: Path, table: str, key: str) -> list:
    import sqlite3

    with sqlite3.connect(project / ".dativo/sample/shop.db") as db:
        return [row[0] for row in db.execute(f"SELECT {key} FROM {table} ORDER BY {key}")]


def test_preview_shows_rows_and_schema_and_writes_nothing(example_project):
    project = example_project
    assert _dativo(project, "sample-data").returncode == 0
    assert _dativo(project, "run", "--config", "jobs/acme/orders.yaml").returncode == 0  # a catalog to keep unchanged
    home = project / ".dativo"
    before = _fingerprint(home)
    done = _dativo(project, "preview", "--config", "jobs/acme/customers.yaml", "--limit", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith("│") and "@example.com" in line]
    ids = [int(line.split("│")[1]) for line in rows]
    assert ids == _sample_ids(project, "customers", "id")[:3]  # the first 3 rows of the source, in order
    assert "customers: schema" in done.stdout and any("updated_at" in l and "string" in l for l in lines)
    assert _fingerprint(home) == before  # nothing written: catalog, warehouse and state unchanged
    assert "customers" not in {p.name for p in (home / "warehouse" / "acme").iterdir()}


def test_preview_incremental_starts_after_the_committed_cursor(example_project):
    project = example_project
    assert _dativo(project, "sample-data").returncode == 0
    assert _dativo(project, "run", "--config", "jobs/acme/customers.yaml").returncode == 0
    before = _fingerprint(project / ".dativo")
    done = _dativo(project, "preview", "--config", "jobs/acme/customers.yaml", "--incremental")
    assert done.returncode == 0, done.stderr
    assert "no rows after the committed cursor" in done.stdout  # everything landed: nothing new to read
    assert _fingerprint(project / ".dativo") == before


def test_preview_bad_config_is_a_clear_error(example_project, write):
    job = write("jobs/acme/bad.yaml", "tenant_id: acme\nsource: {type: csv, filez: []}\ntarget: {type: iceberg}\n")
    done = _dativo(example_project, "preview", "--config", str(job))
    assert done.returncode == 2 and "bad.yaml" in done.stderr and "Traceback" not in done.stderr


def test_show_table_and_job(example_project):
    project = example_project
    assert _dativo(project, "sample-data").returncode == 0
    ran = _dativo(project, "run", "--config", "jobs/acme/customers.yaml", "--json")
    result = json.loads(ran.stdout.splitlines()[-1])
    obj = result["objects"][0]
    done = _dativo(project, "show", "acme.customers")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"acme.customers: {len(_sample_ids(project, 'customers', 'id')):,} rows" in out
    assert obj["rows_written"] == len(_sample_ids(project, "customers", "id"))
    job_row = next(line for line in out.splitlines() if line.startswith("│ acme/customers"))
    assert str(obj["cursor_after"]) in job_row and result["run_id"] in job_row  # committed cursor and last run
    assert str(obj["snapshot_id"]) in out  # recent snapshots
    assert any("email" in line and "string" in line for line in out.splitlines())  # schema
    by_job = _dativo(project, "show", "--config", "jobs/acme/customers.yaml")
    assert by_job.returncode == 0 and result["run_id"] in by_job.stdout
    missing = _dativo(project, "show", "acme.nothing_here")
    assert missing.returncode == 2 and "no such table" in missing.stdout


def test_show_parquet_job(example_project, write):
    project = example_project
    (project / "data").mkdir()
    (project / "data/a.csv").write_text("id,at\n1,2026-01-01\n2,2026-01-02\n3,2026-01-03\n")
    job = write("jobs/acme/pq.yaml", """
        tenant_id: acme
        source: {type: csv, files: [{path: ../../data/a.csv, object: things}], incremental: {strategy: cursor, cursor_field: at}}
        target: {type: parquet}
    """)
    ran = _dativo(project, "run", "--config", str(job), "--json")
    result = json.loads(ran.stdout.splitlines()[-1])
    done = _dativo(project, "show", "--config", str(job))
    assert done.returncode == 0, done.stderr
    assert "things: 3 rows in 1 file(s)" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "│ acme/pq" in line)
    assert result["run_id"] in row and "2026-01-03" in row
