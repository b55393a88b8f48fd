"""The embedded catalog (sqlite3, no SQLAlchemy) against pyiceberg's own SqlCatalog on the same file, its
compare-and-swap commit, and the no-new-rows probe that reads a job's state without importing pyiceberg."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, TableAlreadyExistsError

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.errors import ErrorKind, classify
from dativo_defs.engine.runner import run_job
from dativo_defs.engine.targets import iceberg_state
from dativo_defs.engine.targets.iceberg import IcebergTarget
from dativo_defs.engine.targets.iceberg_catalog import EmbeddedCatalog
from dativo_defs.engine.targets.iceberg_probe import JOURNAL_DIR
from tests.conftest import REPO

ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]})


def _catalogs(home: Path) -> tuple[EmbeddedCatalog, SqlCatalog]:
    props = {"uri": f"sqlite:///{home / 'catalog.db'}", "warehouse": (home / "warehouse").as_uri()}
    home.mkdir(parents=True, exist_ok=True)
    return EmbeddedCatalog("dativo", **props), SqlCatalog("dativo", **props)


def test_the_embedded_catalog_and_pyiceberg_sql_catalog_share_one_file(tmp_path):
    embedded, sql = _catalogs(tmp_path)
    embedded.create_namespace("ns", {"owner": "me"})
    with pytest.raises(NamespaceAlreadyExistsError):
        sql.create_namespace("ns")
    embedded.create_table("ns.t", schema=ROWS.schema).append(ROWS)
    sql.load_table("ns.t").append(ROWS)  # SQLAlchemy's compare-and-swap on the row the embedded one wrote
    with pytest.raises(TableAlreadyExistsError):
        sql.create_table("ns.t", schema=ROWS.schema)
    assert embedded.load_table("ns.t").scan().to_arrow().num_rows == 6
    assert sql.list_tables("ns") == embedded.list_tables("ns") == [("ns", "t")]
    assert sql.list_namespaces() == embedded.list_namespaces() == [("ns",)]
    embedded.update_namespace_properties("ns", removals={"owner"}, updates={"team": "data"})
    assert sql.load_namespace_properties("ns") == {"team": "data"}
    embedded.rename_table("ns.t", "ns.u")
    assert sql.load_table("ns.u").scan().to_arrow().num_rows == 6
    sql.drop_table("ns.u")
    assert not embedded.table_exists("ns.u")


class _Interleaved(EmbeddedCatalog):
    """Lets another writer commit between this catalog's read of the table and its swap (a real race, staged)."""

    other: EmbeddedCatalog | None = None

    def _write_metadata(self, metadata, io, metadata_path):  # noqa: ANN001 - pyiceberg's signature
        if self.other is not None:
            other, self.other = self.other, None
            other.load_table("ns.t").transaction().set_properties(winner="other").commit_transaction()
        super()._write_metadata(metadata, io, metadata_path)


def test_a_commit_that_lost_the_race_fails_and_changes_nothing(tmp_path):
    embedded, _ = _catalogs(tmp_path)
    embedded.create_namespace("ns")
    embedded.create_table("ns.t", schema=ROWS.schema)
    racing = _Interleaved("dativo", **embedded.properties)
    racing.other = embedded
    table = racing.load_table("ns.t")
    with pytest.raises(CommitFailedException):
        table.transaction().set_properties(winner="racing").commit_transaction()
    assert embedded.load_table("ns.t").properties["winner"] == "other"


def test_a_locked_embedded_catalog_is_transient(tmp_path):
    path = tmp_path / "catalog.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            EmbeddedCatalog("dativo", uri=f"sqlite:///{path}?timeout=0.1", warehouse=tmp_path.as_uri())
    finally:
        holder.close()
    assert "database is locked" in str(caught.value)
    assert classify(caught.value) is ErrorKind.TRANSIENT


NO_NEW_ROWS = """
import json, sys
from pathlib import Path
from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
result = run_job(load_job(Path(sys.argv[1])))
print(json.dumps({"status": result.status.value, "rows": result.rows_written, "cursor": result.objects[0].cursor_after,
                  "pyiceberg": any(name.startswith(("pyiceberg", "sqlalchemy")) for name in sys.modules)}))
"""


def test_a_run_without_new_rows_reads_its_state_without_pyiceberg(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(5)))
    path = write("jobs/t3/items.yaml", """
        tenant_id: t3
        source:
          type: jsonl
          files: [{path: ../../data/items.jsonl, object: items}]
          incremental: {cursor_field: id}
        target: {type: iceberg}
    """)
    job = load_job(path)
    assert run_job(job).rows_written == 5
    out = subprocess.run([sys.executable, "-c", NO_NEW_ROWS, str(path)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"status": "success", "rows": 0, "cursor": 4,
                                                                "pyiceberg": False}
    target = IcebergTarget(job.config.target, "t3", job.name, dativo_home, job.base_dir)
    probed = target._probe("t3.items")  # noqa: SLF001 - the probe itself, beside the full path
    table = target.catalog.load_table("t3.items")
    assert probed is not None and probed == iceberg_state.read(table.metadata, target.job_key)
    # a write journal under the table (a live run, or a dead one to sweep): the probe steps aside
    journal = Path(table.location().removeprefix("file://")) / JOURNAL_DIR / "run-x"
    journal.mkdir(parents=True)
    assert target._probe("t3.items") is None  # noqa: SLF001
    data.write_text(data.read_text() + json.dumps({"id": 5}) + "\n")
    result = run_job(job)
    assert result.status is RunStatus.SUCCESS and result.rows_written == 1
