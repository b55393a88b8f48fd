"""`dativo init`: the files it writes carry the schema header, validate as written and run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from dativo_defs.cli_init import INIT_SOURCE_TYPES as SOURCE_TYPES
from dativo_defs.cli_init import SAMPLE_ROWS
from tests.cli.tty import run_on_tty
from tests.conftest import postgres_database

DATIVO = str(Path(sys.executable).parent / "dativo")
SAMPLE_IDS = [row[0] for row in SAMPLE_ROWS]


def _dativo(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([DATIVO, *args], cwd=cwd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("DATIVO_RUNNER_CONFIG", raising=False)
    monkeypatch.delenv("DATIVO_HOME", raising=False)


def _headers_resolve(project: Path, tenant: str = "*") -> None:
    """Every written file starts with a schema header that resolves, and carries comments."""
    files = [*project.glob(f"jobs/{tenant}/*.yaml"), *project.glob(f"jobs/{tenant}/contracts/*.yaml")]
    assert len(files) >= 2
    for file in files + ([project / "configs/runner.yaml"] if tenant == "*" else []):
        first = file.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), file
        assert (file.parent / first.split("=", 1)[1]).resolve().exists(), file
        assert sum(line.lstrip().startswith("#") or " # " in line for line in file.read_text().splitlines()) >= 2, file


def test_init_project_validates_and_runs(tmp_path, clean_env):
    done = _dativo(tmp_path, "init", "--dir", "proj")
    assert done.returncode == 0, done.stderr
    project = tmp_path / "proj"
    _headers_resolve(project)
    assert _dativo(project, "validate").returncode == 0
    ran = _dativo(project, "run", "--all")
    assert ran.returncode == 0, ran.stderr
    from pyiceberg.catalog.sql import SqlCatalog

    home = project / ".dativo"
    catalog = SqlCatalog("dativo", uri=f"sqlite:///{home / 'catalog.db'}", warehouse=(home / "warehouse").as_uri())
    table = catalog.load_table("demo.items").scan().to_arrow()
    assert sorted(table.column("id").to_pylist()) == SAMPLE_IDS
    assert _dativo(tmp_path, "init", "--dir", "proj").returncode == 2  # never overwrites without --force


def test_init_job_validates_for_every_source(example_project):
    for source in SOURCE_TYPES:
        done = _dativo(example_project, "init", "job", "--tenant", "newco", "--source", source, "--target",
                       "parquet", "--object", f"items_{source}", "--name", source)
        assert done.returncode == 0, done.stderr
    _headers_resolve(example_project, "newco")
    checked = _dativo(example_project, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(f"newco/{source}" in checked.stdout for source in SOURCE_TYPES), checked.stdout


@pytest.mark.parametrize("source", ["csv", "jsonl", "parquet", "sqlite"])
def test_init_job_with_sample_data_runs(example_project, source):
    assert _dativo(example_project, "init", "job", "--tenant", "newco", "--source", source, "--object",
                   f"items_{source}", "--name", source).returncode == 0
    ran = _dativo(example_project, "run", "--config", f"jobs/newco/{source}.yaml", "--json")
    assert ran.returncode == 0, ran.stderr
    show = _dativo(example_project, "show", f"newco.items_{source}")
    assert show.returncode == 0 and f"newco.items_{source}: 3 rows" in show.stdout


def test_init_job_postgres_runs_against_a_real_server(example_project):
    import psycopg2

    with postgres_database("dativo_init") as name:
        with psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name) as db, db.cursor() as cur:
            cur.execute("CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, updated_at text NOT NULL)")
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", SAMPLE_ROWS)
        assert _dativo(example_project, "init", "job", "--tenant", "newco", "--source", "postgres",
                       "--target", "parquet").returncode == 0
        ran = _dativo(example_project, "run", "--config", "jobs/newco/postgres.yaml", env={"PGDATABASE": name})
        assert ran.returncode == 0, ran.stderr
        landed = ds.dataset(example_project / ".dativo/parquet/newco/items", format="parquet").to_table()
        assert sorted(landed.column("id").to_pylist()) == SAMPLE_IDS


def test_init_prompts_on_a_terminal(tmp_path, clean_env):
    code, screen = run_on_tty([DATIVO, "init", "--dir", "p"], cwd=tmp_path,
                              stdin_text="acme\njsonl\nparquet\nevents\nclicks\n")
    assert code == 0, screen
    assert "tenant id" in screen and "source type" in screen
    job = tmp_path / "p/jobs/acme/clicks.yaml"
    assert "type: jsonl" in job.read_text() and "type: parquet" in job.read_text()
    assert (tmp_path / "p/jobs/acme/data/events.jsonl").exists()
    assert _dativo(tmp_path / "p", "validate").returncode == 0


def test_init_job_without_a_terminal_needs_the_tenant(example_project):
    done = _dativo(example_project, "init", "job", "--source", "csv")
    assert done.returncode == 2 and "--tenant" in done.stderr
    bad = _dativo(example_project, "init", "job", "--tenant", "a-b c", "--source", "csv")
    assert bad.returncode == 2 and "--tenant" in bad.stderr and "Traceback" not in bad.stderr
