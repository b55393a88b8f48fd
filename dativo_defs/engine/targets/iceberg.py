"""Apache Iceberg through pyiceberg: one atomic commit per stream and run, with the incremental state in the
same commit's snapshot summary, so data and state can never diverge.

Embedded default: a SQL catalog in a SQLite file under DATIVO_HOME with a local warehouse. Any pyiceberg
catalog (SQL on PostgreSQL, REST: Nessie, Polaris, Lakekeeper, Glue REST) is a matter of configuration.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io import FileIO, InputFile, OutputFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.transforms import (BucketTransform, DayTransform, HourTransform, IdentityTransform, MonthTransform,
                                  TruncateTransform, YearTransform)

from ...config.paths import resolve_relative
from ...config.targets import IcebergTarget as IcebergConfig
from ...config.targets import WriteMode
from ..errors import CommitConflictError, ConfigurationError
from ..sources.base import State, Stream
from .base import RUN_ID_KEY, STATE_JOB_KEY, STATE_KEY, CommitInfo, Target, WriteRequest
from .iceberg_journal import Journal, sweep

log = logging.getLogger(__name__)
PARTITIONED_CHUNK_ROWS = 500_000  # partitioned tables are written by pyiceberg in chunks of this many rows
TARGET_FILE_BYTES = 256 * 1024 * 1024
TRANSFORMS = {"identity": lambda w: IdentityTransform(), "year": lambda w: YearTransform(),
              "month": lambda w: MonthTransform(), "day": lambda w: DayTransform(), "hour": lambda w: HourTransform(),
              "bucket": lambda w: BucketTransform(w or 16), "truncate": lambda w: TruncateTransform(w or 8)}


class RecordingIO(FileIO):
    """Delegates to the table's FileIO and journals every file before it is written, so a failed commit can
    delete them (`journal.roll_back()`), and a later run can if this one is killed first."""

    def __init__(self, inner: FileIO, journal: Journal):
        super().__init__(inner.properties)
        self.inner = inner
        self.journal = journal

    def new_input(self, location: str) -> InputFile:
        return self.inner.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        self.journal.add(location)
        return self.inner.new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self.inner.delete(location)


def catalog_properties(config: IcebergConfig, home: Path, base_dir: Path) -> tuple[str, dict[str, str]]:
    """pyiceberg catalog name and properties (secrets resolved here, at run time, and registered for redaction)."""
    catalog = config.catalog
    if catalog is None:
        home.mkdir(parents=True, exist_ok=True)
        return "dativo", {"type": "sql", "uri": f"sqlite:///{home / 'catalog.db'}",
                          "warehouse": (home / "warehouse").as_uri()}
    props = {"type": catalog.type, **catalog.properties}
    if catalog.uri:
        props["uri"] = catalog.uri
    if catalog.warehouse:
        warehouse = resolve_relative(catalog.warehouse, base_dir)
        props["warehouse"] = warehouse if "://" in warehouse else Path(warehouse).as_uri()
    if catalog.credential:
        props["credential"] = catalog.credential.resolve(base_dir)
    props.update({key: ref.resolve(base_dir) for key, ref in catalog.secret_properties.items()})
    storage = config.storage
    if storage:
        props.update({k: v for k, v in {"s3.endpoint": storage.endpoint_url, "s3.region": storage.region}.items() if v})
        if storage.access_key_id:
            props["s3.access-key-id"] = storage.access_key_id.resolve(base_dir)
        if storage.secret_access_key:
            props["s3.secret-access-key"] = storage.secret_access_key.resolve(base_dir)
    return catalog.name, props


class IcebergTarget(Target):
    types = ("iceberg",)

    def __init__(self, config: IcebergConfig, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        super().__init__(config, tenant_id, job_name, home, base_dir)
        name, props = catalog_properties(config, home, base_dir)
        self.catalog: Catalog = load_catalog(name, **props)
        self.namespace = config.namespace or tenant_id

    def table_name(self, stream: Stream) -> str:
        return f"{self.namespace}.{self.config.table_prefix}{stream.object}"

    # -- state -------------------------------------------------------------------------------------------
    def read_state(self, stream: Stream) -> State | None:
        try:
            table = self.catalog.load_table(self.table_name(stream))
        except NoSuchTableError:
            return None
        return self._state_in(table)

    def _state_in(self, table: Table) -> State | None:
        """The newest snapshot of the main branch written by this job carries its state."""
        for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
            summary = snapshot.summary
            if summary is not None and summary[STATE_JOB_KEY] == self.job_key:
                raw = summary[STATE_KEY]
                return json.loads(raw) if raw else None
        return None

    # -- write -------------------------------------------------------------------------------------------
    def write(self, request: WriteRequest) -> CommitInfo:
        table = self._table_for(request.stream, request.schema)
        orphans = sweep(table.io, table, request.run_id, self.config.orphan_grace_seconds)
        recorder = RecordingIO(table.io, Journal.start(table.io, table, request.run_id, self.job_key))
        table.io = recorder
        props: dict[str, str] = {STATE_JOB_KEY: self.job_key, RUN_ID_KEY: request.run_id}
        before = table.current_snapshot().snapshot_id if table.current_snapshot() else None
        name = self.table_name(request.stream)
        try:
            tx = table.transaction()
            self._stage(tx, table, request, props)
            committed = tx.commit_transaction()
        except CommitFailedException as exc:  # the catalog refused the commit: nothing of ours is referenced
            recorder.journal.roll_back()
            raise CommitConflictError(f"commit to {name} failed: another writer won after retries ({exc})") from exc
        except BaseException:
            landed = self._landed(request, recorder)
            if landed is not None:  # the commit went through but its answer was lost: that is a success
                recorder.journal.discard()
                return _commit_info(name, landed, before, request.run_id, orphans)
            raise
        recorder.journal.discard()
        return _commit_info(name, committed, before, request.run_id, orphans)

    def _landed(self, request: WriteRequest, recorder: RecordingIO) -> Table | None:
        """After a failure, did this run's commit land anyway (e.g. a REST catalog timed out after applying it)?
        Files are deleted only when the catalog says no; if it cannot be asked, they stay (orphans are safer
        than deleting data a committed snapshot references)."""
        try:
            table = self.catalog.load_table(self.table_name(request.stream))
            for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
                if snapshot.summary is not None and snapshot.summary[RUN_ID_KEY] == request.run_id:
                    return table
        except Exception as exc:  # noqa: BLE001 - any failure here means "cannot tell"
            log.warning("could not check whether run %s committed (%s); keeping its files", request.run_id, exc)
            return None
        recorder.journal.roll_back()
        return None

    def _stage(self, tx: Any, table: Table, request: WriteRequest, props: dict[str, str]) -> None:
        """Stage the data in `tx`; the last snapshot carries the state, known once the batches are read."""
        mode = self.config.mode
        if mode is WriteMode.MERGE:
            data = _concat(list(request.batches), request.schema)
            _evolve(tx, data.schema)
            props[STATE_KEY] = json.dumps(request.final_state())
            keys = list(request.stream.primary_key) or _identifier_names(table)
            if not keys:
                raise ConfigurationError(f"merge into {self.table_name(request.stream)} needs a primary key",
                                         hint="set primary_key on the source table or primaryKey in the contract")
            data = _last_per_key(data, keys)
            if data.num_rows:
                tx.upsert(data, join_cols=keys, snapshot_properties=props)
            else:
                tx.append(data, snapshot_properties=props)
            return
        if mode is WriteMode.OVERWRITE and table.current_snapshot() is not None:
            tx.delete(AlwaysTrue())
        if table.spec().is_unpartitioned():
            # pyiceberg's own two-stage pattern: write Parquet files, then add them in the same transaction.
            # It streams at the floor's speed, and the state is known before the snapshot is produced.
            files, schema = _write_parquet_files(table, request)
            props[STATE_KEY] = json.dumps(request.final_state())
            _evolve(tx, schema)
            _refresh_name_mapping(tx)
            tx.add_files(files, snapshot_properties=props, check_duplicate_files=False)
            return
        chunk: list[pa.RecordBatch] = []
        rows = 0
        for batch in request.batches:
            chunk.append(batch)
            rows += batch.num_rows
            if rows >= PARTITIONED_CHUNK_ROWS:
                data = _concat(chunk, request.schema)
                _evolve(tx, data.schema)
                tx.append(data, snapshot_properties=dict(props))
                chunk, rows = [], 0
        data = _concat(chunk, request.schema)
        _evolve(tx, data.schema)
        props[STATE_KEY] = json.dumps(request.final_state())
        tx.append(data, snapshot_properties=props)

    def _table_for(self, stream: Stream, schema: pa.Schema) -> Table:
        name = self.table_name(stream)
        self.catalog.create_namespace_if_not_exists(self.namespace)
        try:
            return self.catalog.load_table(name)
        except NoSuchTableError:
            pass
        table = self.catalog.create_table_if_not_exists(
            name, schema=schema,
            properties={**self.config.table_properties,  # governance metadata (upstream-format jobs)
                        "commit.retry.num-retries": str(self.config.commit_retries), "format-version": "2"},
        )
        if self.config.partitioning:
            with table.transaction() as tx:
                if self.config.partitioning:
                    with tx.update_spec() as spec:
                        for field in self.config.partitioning:
                            spec.add_field(field.column, TRANSFORMS[field.transform](field.width))
            table = self.catalog.load_table(name)
        return table


def _write_parquet_files(table: Table, request: WriteRequest) -> tuple[list[str], pa.Schema]:
    """Stream the batches into uniquely named Parquet files under the table's data location (via table.io,
    so a RecordingIO sees them for cleanup). Rolls to a new file every TARGET_FILE_BYTES and whenever the
    batches' schema widens. Returns the files and the widest schema seen."""
    codec = table.metadata.properties.get("write.parquet.compression-codec", "zstd")
    files: list[str] = []
    writer = sink = None
    schema = request.schema
    try:
        for batch in request.batches:
            if writer is None or sink.tell() >= TARGET_FILE_BYTES or batch.schema != writer.schema:
                if writer is not None:
                    writer.close()
                    sink.close()
                files.append(f"{table.location().rstrip('/')}/data/dativo-{request.run_id}-{len(files):05d}.parquet")
                sink = table.io.new_output(files[-1]).create(overwrite=False)
                writer = pq.ParquetWriter(sink, batch.schema, compression=codec)
                schema = batch.schema if len(batch.schema) >= len(schema) else schema
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
            sink.close()
    return files, schema


def _concat(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """One table from batches whose schema may have widened during the run."""
    if not batches:
        return schema.empty_table()
    return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="default")


def _evolve(tx: Any, schema: pa.Schema) -> None:
    """Add the columns the table does not have yet (new nullable columns; nothing is ever dropped)."""
    existing = {f.name for f in tx.table_metadata.schema().fields}
    if any(name not in existing for name in schema.names):
        with tx.update_schema() as update:
            update.union_by_name(schema)


def _refresh_name_mapping(tx: Any) -> None:
    """add_files resolves columns by name through the table's name mapping; keep it in step with the schema
    (pyiceberg sets it only once, so a column added later would otherwise read back as null)."""
    mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
    if tx.table_metadata.properties.get("schema.name-mapping.default") != mapping:
        tx.set_properties(**{"schema.name-mapping.default": mapping})


def _identifier_names(table: Table) -> list[str]:
    schema = table.schema()
    return [schema.find_column_name(i) for i in schema.identifier_field_ids]


def _last_per_key(data: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row per key: a run may carry several versions of one row; upsert needs one."""
    if data.num_rows == 0:
        return data
    indexed = data.append_column("__dativo_row", pa.array(range(data.num_rows), pa.int64()))
    last = indexed.group_by(keys, use_threads=False).aggregate([("__dativo_row", "max")])
    return data.take(last.column("__dativo_row_max").combine_chunks().sort())


def _commit_info(name: str, table: Table, before: int | None, run_id: str, orphans_removed: int) -> CommitInfo:
    info = CommitInfo(table=name, orphans_removed=orphans_removed)
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        if snapshot.snapshot_id == before:
            break
        summary = snapshot.summary
        if summary is None or summary[RUN_ID_KEY] != run_id:
            continue
        info.snapshot_id = info.snapshot_id or snapshot.snapshot_id
        info.rows += int(summary["added-records"] or 0)
        info.bytes += int(summary["added-files-size"] or 0)
        info.files += int(summary["added-data-files"] or 0)
    return info
