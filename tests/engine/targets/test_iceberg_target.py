"""Iceberg target behaviours against the real embedded SQL catalog: write modes, schema evolution,
partitioning, concurrent committers and orphan cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from tests.conftest import REPO
from tests.engine.helpers import files_on_disk, iceberg_catalog, read_iceberg, referenced_data_files


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _job(write, mode: str, extra_target: str = "", extra: str = "") -> Path:
    return write("jobs/t2/items.yaml", f"""
        tenant_id: t2
        source:
          type: jsonl
          files: [{{path: ../../data/items.jsonl, object: items}}]
        target: {{type: iceberg, mode: {mode}{extra_target}}}
        {extra}
    """)


def test_overwrite_replaces_and_append_adds(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    _jsonl(data, [{"id": i, "v": "a"} for i in range(10)])
    overwrite = load_job(_job(write, "overwrite"))
    run_job(overwrite)
    _jsonl(data, [{"id": i, "v": "b"} for i in range(3)])
    assert run_job(overwrite).status is RunStatus.SUCCESS
    table = read_iceberg(dativo_home, "t2.items")
    assert sorted(table.column("v").to_pylist()) == ["b"] * 3


def test_merge_upserts_on_the_primary_key(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    _jsonl(data, [{"id": i, "v": f"v{i}"} for i in range(5)])
    job = load_job(_job(write, "merge", extra="contract: {schema: [{name: id, type: long, required: true, "
                                              "primaryKey: true}, {name: v, type: string}]}"))
    assert run_job(job).status is RunStatus.SUCCESS
    _jsonl(data, [{"id": 3, "v": "old"}, {"id": 3, "v": "new"}, {"id": 9, "v": "v9"}])
    assert run_job(job).status is RunStatus.SUCCESS
    rows = {r["id"]: r["v"] for r in read_iceberg(dativo_home, "t2.items").to_pylist()}
    assert rows == {0: "v0", 1: "v1", 2: "v2", 3: "new", 4: "v4", 9: "v9"}


def test_added_column_evolves_the_schema(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    _jsonl(data, [{"id": 1, "v": "a"}])
    job = load_job(_job(write, "append"))
    run_job(job)
    _jsonl(data, [{"id": 2, "v": "b", "extra": 1.5}])
    assert run_job(job).status is RunStatus.SUCCESS
    rows = sorted(read_iceberg(dativo_home, "t2.items").to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "v": "a", "extra": None}, {"id": 2, "v": "b", "extra": 1.5}]


def test_partitioned_table(write, dativo_home):
    _jsonl(dativo_home.parent / "data/items.jsonl", [{"id": i, "v": "abc"[i % 3]} for i in range(30)])
    job = load_job(_job(write, "append", extra_target=", partitioning: [{column: v}]"))
    result = run_job(job)
    assert result.status is RunStatus.SUCCESS and result.objects[0].files_written == 3
    table = iceberg_catalog(dativo_home).load_table("t2.items")
    assert [f.name for f in table.spec().fields] == ["v"]
    assert len(read_iceberg(dativo_home, "t2.items")) == 30


CONCURRENT_WRITER = """
import sys
from pathlib import Path
from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
result = run_job(load_job(Path(sys.argv[1])))
print(result.status.value, result.error_kind, result.rows_written)
"""


def test_concurrent_committers_lose_nothing_and_leave_no_orphans(write, dativo_home):
    """Six processes append to one table at once with no commit retries: every run either lands all its rows
    or fails as transient and deletes its files."""
    _jsonl(dativo_home.parent / "data/items.jsonl", [{"id": i, "v": "x"} for i in range(2_000)])
    job = _job(write, "append", extra_target=", commit_retries: 0")
    run_job(load_job(job))  # create the table first
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(job)], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(6)]
    outcomes = [p.communicate(timeout=120)[0].split() for p in procs]
    succeeded = [o for o in outcomes if o[0] == "success"]
    failed = [o for o in outcomes if o[0] == "failed"]
    assert len(succeeded) + len(failed) == 6 and all(o[1] == "transient" for o in failed)
    print(f"concurrent committers: {len(succeeded)} landed, {len(failed)} failed as transient")
    assert len(read_iceberg(dativo_home, "t2.items")) == 2_000 * (1 + len(succeeded))
    data_on_disk = {f for f in files_on_disk(dativo_home, "t2.items") if f.endswith(".parquet")}
    assert data_on_disk == referenced_data_files(dativo_home, "t2.items")


def test_a_column_that_appears_mid_run_is_kept(write, dativo_home):
    rows = [{"id": i} for i in range(300)] + [{"id": i, "late": f"x{i}"} for i in range(300, 400)]
    _jsonl(dativo_home.parent / "data/items.jsonl", rows)
    job = load_job(write("jobs/t2/items.yaml", """
        tenant_id: t2
        source: {type: jsonl, batch_rows: 100, custom_reader: "tests.engine.targets.test_iceberg_target:PerLineJson",
                 files: [{path: ../../data/items.jsonl, object: items}]}
        target: {type: iceberg}
    """))
    result = run_job(job)
    assert result.status is RunStatus.SUCCESS, result.error
    landed = sorted(read_iceberg(dativo_home, "t2.items").to_pylist(), key=lambda r: r["id"])
    assert landed[0] == {"id": 0, "late": None} and landed[-1] == {"id": 399, "late": "x399"} and len(landed) == 400


from dativo_defs.engine.sources.files import FileSource  # noqa: E402


class PerLineJson(FileSource):
    """Yields each 100 lines as its own batch with its own inferred schema (as an API source does)."""

    def read(self, stream, state):
        import pyarrow as pa

        lines = [json.loads(line) for line in Path(self._matching_files(stream)[1][0][0]).read_text().splitlines()]
        for start in range(0, len(lines), 100):
            yield pa.RecordBatch.from_pylist(lines[start:start + 100])


def test_a_commit_whose_answer_is_lost_counts_as_landed(write, dativo_home, monkeypatch):
    """The catalog applies the commit but the client sees an error (a REST catalog timing out after the
    update): the run must report success, keep its files, and a rerun must not write the rows again."""
    from pyiceberg.table import Transaction

    _jsonl(dativo_home.parent / "data/items.jsonl", [{"id": i} for i in range(50)])
    job = load_job(_job(write, "append"))
    original = Transaction.commit_transaction

    def commit_then_lose_the_answer(self):
        original(self)
        raise TimeoutError("read timed out after the catalog applied the commit")

    monkeypatch.setattr(Transaction, "commit_transaction", commit_then_lose_the_answer)
    result = run_job(job)
    monkeypatch.setattr(Transaction, "commit_transaction", original)
    assert result.status is RunStatus.SUCCESS, result.error
    assert result.objects[0].snapshot_id is not None
    data_on_disk = {f for f in files_on_disk(dativo_home, "t2.items") if f.endswith(".parquet")}
    assert data_on_disk == referenced_data_files(dativo_home, "t2.items") and data_on_disk
    assert len(read_iceberg(dativo_home, "t2.items")) == 50
