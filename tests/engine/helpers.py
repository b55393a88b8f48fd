"""Helpers for engine tests: read committed data back from the real Iceberg catalog / Parquet dataset."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from pyiceberg.catalog import load_catalog


def iceberg_catalog(home: Path):
    return load_catalog("dativo", type="sql", uri=f"sqlite:///{home / 'catalog.db'}",
                        warehouse=(home / "warehouse").as_uri())


def read_iceberg(home: Path, table: str) -> pa.Table:
    return iceberg_catalog(home).load_table(table).scan().to_arrow()


def read_parquet(path: Path) -> pa.Table:
    return ds.dataset(str(path), format="parquet").to_table()


def files_on_disk(home: Path, table: str) -> set[str]:
    """Every file under the table's location (data and metadata)."""
    root = Path(iceberg_catalog(home).load_table(table).location().removeprefix("file://"))
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def referenced_data_files(home: Path, table: str) -> set[str]:
    files = iceberg_catalog(home).load_table(table).inspect.files()
    return {p.removeprefix("file://") for p in files.column("file_path").to_pylist()}
