"""Target blocks of a job file: an Iceberg table per object, or a Parquet dataset per object."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import Field

from .base import StrictModel
from .secrets import Secret
from .sources import PLUGIN_SPEC, ObjectStorage


class WriteMode(str, Enum):
    APPEND = "append"
    OVERWRITE = "overwrite"
    MERGE = "merge"


class CatalogConfig(StrictModel):
    """A pyiceberg catalog. Omit it to use the embedded SQLite catalog under DATIVO_HOME."""

    type: Literal["sql", "rest"] = "sql"
    name: str = "dativo"
    uri: str | None = Field(
        None, description="sql: SQLAlchemy URL (sqlite:///..., postgresql+psycopg2://...); rest: catalog URL."
    )
    warehouse: str | None = Field(None, description="Warehouse location (local path, file:// or s3://).")
    credential: Secret | None = Field(None, description="rest: OAuth2 client credential or token.")
    properties: dict[str, str] = Field(default_factory=dict, description="Extra pyiceberg catalog properties.")
    secret_properties: dict[str, Secret] = Field(default_factory=dict, description="Catalog properties that are secrets.")


class PartitionField(StrictModel):
    column: str
    transform: Literal["identity", "year", "month", "day", "hour", "bucket", "truncate"] = "identity"
    width: int | None = Field(None, ge=1, description="bucket count / truncate width.")


class IcebergTarget(StrictModel):
    type: Literal["iceberg"]
    catalog: CatalogConfig | None = None
    namespace: str | None = Field(None, description="Defaults to the tenant id.")
    table_prefix: str = Field("", description="Prepended to each object name to form the table name.")
    mode: WriteMode = WriteMode.APPEND
    partitioning: list[PartitionField] = Field(default_factory=list)
    storage: ObjectStorage | None = None
    commit_retries: int = Field(8, ge=0, description="Times a commit is rebased when another job or engine commits "
                                "to the table first. An overlapping run of the same job is never rebased onto: this "
                                "run then fails as transient with nothing committed.")
    table_properties: dict[str, str] = Field(
        default_factory=dict, description="Iceberg table properties, set at creation and by the next commit when they "
        "differ (upstream-format "
        "jobs put their asset's governance here: classification.*, governance.*, finops.*).")
    location: str | None = Field(
        None, min_length=1, description="Where a new table's files go (its metadata/ and data/ folders), instead of the "
        "catalog warehouse's default; `{table}` is replaced by the object's table name (without the namespace) and is "
        "required when the job has more than one object. A table that exists keeps its location.")
    orphan_grace_seconds: int = Field(
        900, ge=0, description="A run that died before committing (killed, out of memory) leaves uncommitted files; "
        "a later write to the table deletes them this long after the dead run's last file (24 h when it ran on "
        "another host, whose process cannot be checked).")

    def table_location(self, table: str) -> str | None:
        """The location of a new table named `table` (no namespace), or None for the catalog's default."""
        return self.location.replace("{table}", table) if self.location else None


class ParquetTarget(StrictModel):
    type: Literal["parquet"]
    path: str | None = Field(None, description="Dataset root (local or s3://). Defaults to DATIVO_HOME/parquet/<tenant>.")
    storage: ObjectStorage | None = None
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    mode: Literal["append", "overwrite"] = Field(
        "append", description="append: each run adds its rows. overwrite: each run with rows replaces the whole "
        "dataset (a full refresh), through the commit log.")
    partition_by: list[str] = Field(
        default_factory=list, description="Hive-style partition columns: each file goes under `col=value/` folders and "
        "the columns are in the path only (readers recover them, e.g. pyarrow's `partitioning=\"hive\"`); upstream-"
        "format jobs partitioned by `ingest_date` get it here.")


class UpstreamWriterTarget(StrictModel):
    """An upstream (Dativo) writer plugin — a `BaseWriter` subclass in a .py file, or a Rust library over upstream's
    C ABI — run with upstream's meaning (write_batch per batch, then commit_files). dativo keeps a Parquet-style
    commit log (files and incremental state) under `path`; who commits the data depends on the plugin
    (engine/targets/upstream_writer.py, docs/MIGRATING.md). Written by the upstream dialect from
    `target.custom_writer`."""

    type: Literal["upstream_writer"]
    plugin: str = Field(pattern=PLUGIN_SPEC,
                        description="'/path/to/module.py:ClassName' or '/path/to/libx.so:create_writer'.")
    connector: str = Field("custom", description="The plugin's `target_config.type` (upstream's target_connector).")
    path: str = Field(min_length=1, description="Dataset root (local or s3://): the commit log and committed files.")
    storage: ObjectStorage | None = None
    # What the plugin reads as its `target_config` and `asset_definition`, as the job and asset files gave them:
    connection: dict[str, Any] = Field(default_factory=dict)
    connection_secrets: dict[str, Secret] = Field(
        default_factory=dict,
        description="Secret strings of `connection` by dotted path; resolved when the plugin is built.")
    engine: dict[str, Any] = Field(default_factory=dict)
    file_format: str | None = None
    asset: dict[str, Any] = Field(default_factory=dict, description="name, object, domain, schema... of the asset.")


TargetConfig = Annotated[IcebergTarget | ParquetTarget | UpstreamWriterTarget, Field(discriminator="type")]
TARGET_TYPES = ["iceberg", "parquet"]  # the documented ones; `upstream_writer` is written only by the upstream dialect
