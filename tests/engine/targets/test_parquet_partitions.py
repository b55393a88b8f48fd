"""Parquet target `partition_by`: Hive-style `col=value/` folders (the column in the path only), through the
same commit log — read back with pyarrow's hive partitioning, and replaced whole by `mode: overwrite`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from tests.upstream.project import write

JOB = """
    tenant_id: t1
    source: {type: csv, files: [{path: data/sales.csv, object: sales}]}
    target: {type: parquet, path: lake, partition_by: [region], mode: MODE}
"""


def landed(root: Path) -> dict[int, str | None]:
    table = ds.dataset(str(root), format="parquet", partitioning="hive").to_table()
    return dict(zip(table.column("id").to_pylist(), table.column("region").to_pylist(), strict=True))


def test_rows_land_in_one_folder_per_value_and_overwrite_replaces_every_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    write(tmp_path / "data/sales.csv", "id,region\n1,eu\n2,us/east\n3,eu\n4,\n")
    job = write(tmp_path / "job.yaml", JOB.replace("MODE", "append"))
    result = run_job(load_job(job))
    assert result.status.value == "success" and result.rows_written == 4, result.error
    root = tmp_path / "lake/sales"
    folders = sorted(p.name for p in root.iterdir() if not p.name.startswith("_"))
    assert folders == ["region=__HIVE_DEFAULT_PARTITION__", "region=eu", "region=us%2Feast"]
    assert result.objects[0].files_written == 3
    files = sorted(root.glob("region=*/*.parquet"))
    assert all("region" not in ds.dataset(str(f), format="parquet").schema.names for f in files)  # path only
    by_id = landed(root)
    assert by_id == {1: "eu", 2: "us/east", 3: "eu", 4: None}  # values round-trip through the path
    job.write_text(JOB.replace("MODE", "overwrite"))
    write(tmp_path / "data/sales.csv", "id,region\n7,eu\n")
    assert run_job(load_job(job)).rows_written == 1
    assert landed(root) == {7: "eu"} and not list(root.glob("region=us*/*.parquet"))
