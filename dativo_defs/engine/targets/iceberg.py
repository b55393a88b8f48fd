"""Apache Iceberg through pyiceberg: one atomic, fenced commit per stream and run.

The run's data files and the job's new incremental state (a table property, see iceberg_state) land in one
metadata commit, so data and state never diverge. The commit is fenced: it lands only while the job's committed
state is still the one the run read. Another job's (or engine's) commit in between is rebased onto, up to
`commit_retries` times; a commit of the same job in between (an overlapping run of it) fails this run as
transient with nothing committed and its files deleted, and the orchestrator's retry continues from the new
state. A run with no rows and an unchanged state commits nothing.

Embedded default: a SQL catalog in a SQLite file under DATIVO_HOME with a local warehouse, through sqlite3
(iceberg_catalog: pyiceberg's SqlCatalog layout without SQLAlchemy's start-up cost). Any pyiceberg
catalog (SQL on PostgreSQL, REST: Nessie, Polaris, Lakekeeper, Glue REST) is a matter of configuration.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ...config.paths import resolve_relative
from ...config.targets import IcebergTarget as IcebergConfig
from ...config.targets import WriteMode
from ..errors import CommitConflictError, ConcurrentRunError, ConfigurationError
from ..sources.base import State, Stream
from . import iceberg_probe, iceberg_state
from .base import RUN_ID_KEY, STATE_JOB_KEY, CommitInfo, Target, WriteRequest
from .iceberg_state import CommittedState, property_key, transaction_without_retries

# pyiceberg (and what imports it: the catalog, the journal, maintenance) is imported where it is used, not here:
# a run that finds no new rows on the embedded catalog never needs it (iceberg_probe), and it costs ~0.3 s.
if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.transforms import Transform

    from .iceberg_journal import RecordingIO

log = logging.getLogger(__name__)
PARTITIONED_CHUNK_ROWS = 500_000  # pyiceberg's partitioned writer takes a table: chunks of this many rows
TARGET_FILE_BYTES = 512 * 1024 * 1024  # Iceberg's write.target-file-size-bytes default
# The embedded default: pyiceberg's SQL catalog layout in DATIVO_HOME/catalog.db, without SQLAlchemy (iceberg_catalog)
EMBEDDED_CATALOG = "dativo"
EMBEDDED_CATALOG_IMPL = "dativo_defs.engine.targets.iceberg_catalog.EmbeddedCatalog"
PY_CATALOG_IMPL = "py-catalog-impl"


def partition_transform(name: str, width: int | None) -> Transform[Any, Any]:
    """The pyiceberg transform of a partitioning entry of the target config."""
    from pyiceberg import transforms

    made: dict[str, Callable[[], Transform[Any, Any]]] = {
        "identity": transforms.IdentityTransform, "year": transforms.YearTransform,
        "month": transforms.MonthTransform, "day": transforms.DayTransform, "hour": transforms.HourTransform,
        "bucket": lambda: transforms.BucketTransform(width or 16),
        "truncate": lambda: transforms.TruncateTransform(width or 8)}
    return made[name]()


def catalog_properties(config: IcebergConfig, home: Path, base_dir: Path) -> tuple[str, dict[str, str]]:
    """pyiceberg catalog name and properties (secrets resolved here, at run time, and registered for redaction)."""
    catalog = config.catalog
    if catalog is None:
        home.mkdir(parents=True, exist_ok=True)
        return EMBEDDED_CATALOG, {PY_CATALOG_IMPL: EMBEDDED_CATALOG_IMPL,
                                  "uri": f"sqlite:///{home / 'catalog.db'}?timeout=30",
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


@dataclass
class _Staged:
    """What a run has written before committing: enough to (re)build its commit on any table version."""

    rows: int = 0
    files: list[str] = field(default_factory=list)  # unpartitioned: our own Parquet files, added by name
    data_files: list[Any] = field(default_factory=list)  # partitioned: pyiceberg DataFiles
    field_ids: dict[str, int] = field(default_factory=dict)  # partitioned: the ids the DataFiles were written with
    merge: pa.Table | None = None  # merge: the run's delta, upserted per attempt
    schema: pa.Schema | None = None


class IcebergTarget(Target):
    types = ("iceberg",)

    def __init__(self, config: IcebergConfig, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        super().__init__(config, tenant_id, job_name, home, base_dir)
        self.catalog_name, self.catalog_props = catalog_properties(config, home, base_dir)
        self.namespace = config.namespace or tenant_id
        self._read: dict[str, CommittedState] = {}  # table -> the committed state this run read (the fence)
        self._orphans: dict[str, int] = {}  # table -> files of dead runs deleted when the state was read

    @functools.cached_property
    def catalog(self) -> Catalog:
        """The pyiceberg catalog, built once per target, on first use."""
        return _load_catalog(self.catalog_name, self.catalog_props)

    def table_name(self, stream: Stream) -> str:
        return f"{self.namespace}.{self.config.table_prefix}{stream.object}"

    # -- state -------------------------------------------------------------------------------------------
    def read_state(self, stream: Stream) -> State | None:
        name = self.table_name(stream)
        probed = self._probe(name)
        if probed is not None:
            self._read[name] = probed
            return probed.state
        from pyiceberg.exceptions import NoSuchTableError

        from .iceberg_journal import sweep
        from .iceberg_maintenance import migrate_states, referenced_files

        try:
            table = self.catalog.load_table(name)
        except NoSuchTableError:
            self._read[name] = CommittedState(None, None)
            return None
        # Every run sweeps, with or without new rows: a dead run's files do not wait for the next run with data.
        self._orphans[name] = sweep(table.io, table, "", self.config.orphan_grace_seconds, referenced_files)
        committed = iceberg_state.read(table.metadata, self.job_key)
        if committed.legacy:  # state only in a snapshot summary: make it a property now, before expiry can drop it
            migrate_states(table)
            committed = iceberg_state.read(table.metadata, self.job_key)
        self._read[name] = committed
        return committed.state

    def _probe(self, name: str) -> CommittedState | None:
        """The job's committed state read straight from the embedded catalog's files, without pyiceberg, when
        that is all `read_state` would do: the table exists, carries the job's state property, and has no write
        journals to sweep (so the sweep would find nothing). None: take the full path."""
        if self.catalog_props.get(PY_CATALOG_IMPL) != EMBEDDED_CATALOG_IMPL:
            return None
        namespace, table_name = name.rsplit(".", 1)
        try:
            location = iceberg_probe.metadata_location(self.catalog_props["uri"], self.catalog_name, namespace,
                                                       table_name)
            metadata = iceberg_probe.table_metadata(location) if location else None
        except (OSError, ValueError) as exc:  # e.g. a metadata file removed meanwhile: the full path decides
            log.debug("probe of %s declined (%s); loading the table", name, exc)
            return None
        if metadata is None:
            return None
        table_dir = iceberg_probe.local_path(str(metadata.get("location", "")))
        if not table_dir or iceberg_probe.has_journals(table_dir):
            return None
        return iceberg_state.from_properties(metadata.get("properties") or {}, self.job_key)

    # -- write -------------------------------------------------------------------------------------------
    def write(self, request: WriteRequest) -> CommitInfo:
        from pyiceberg.exceptions import CommitFailedException

        from .iceberg_journal import Journal, RecordingIO

        name = self.table_name(request.stream)
        read = self._read.get(name) or CommittedState(None, None)
        table = self._table_for(request.stream, request.schema)
        orphans = self._orphans.pop(name, 0)
        recorder = RecordingIO(table.io, Journal.start(table.io, table, request.run_id, self.job_key))
        table.io = recorder
        current = table.current_snapshot()
        before = current.snapshot_id if current is not None else None
        try:
            staged = self._stage(table, request)
            state = request.final_state()
            if staged.rows == 0 and iceberg_state.same_state(state, read.state):
                recorder.journal.roll_back()
                return CommitInfo(table=name, orphans_removed=orphans)  # nothing new: no empty snapshot
            committed = self._commit(table, request, staged, read, state, recorder)
        except (CommitConflictError, ConcurrentRunError, CommitFailedException):
            recorder.journal.roll_back()  # refused or fenced before committing: nothing of ours is referenced
            raise
        except BaseException:
            landed = self._landed(request, recorder)
            if landed is not None:  # the commit went through but its answer was lost: that is a success
                recorder.journal.discard()
                return _commit_info(name, landed, before, request.run_id, orphans)
            raise
        recorder.journal.discard()
        return _commit_info(name, committed, before, request.run_id, orphans)

    def _commit(self, table: Table, request: WriteRequest, staged: _Staged, read: CommittedState,
                state: State | None, recorder: RecordingIO) -> Table:
        """The fenced commit loop: rebase onto other writers' commits, never onto this job's."""
        from pyiceberg.exceptions import CommitFailedException

        name = self.table_name(request.stream)
        state_property = {property_key(self.job_key): read.property_value(request.run_id, state)}
        for attempt in range(self.config.commit_retries + 1):
            table = self.catalog.load_table(name)  # the run may have read for hours: commit onto what is there now
            table.io = recorder
            committed_by = iceberg_state.token(table.metadata, self.job_key)
            if committed_by != read.token:
                raise ConcurrentRunError(
                    f"{name}: another run of job {self.job_key} (run {committed_by}) committed after this run read "
                    f"its state; nothing of this run was committed",
                    hint="runs of one job overlapped (a retry beside a lost first try, a manual run during a "
                         "scheduled one, a job moved between orchestrators); the retry continues from the new state")
            first_new_file = len(recorder.journal.files)
            try:
                tx = transaction_without_retries(table)
                self._apply(tx, table, request, staged)
                configured = {k: v for k, v in self.config.table_properties.items() if table.properties.get(k) != v}
                tx.set_properties({**configured, **state_property})  # table_properties changed since creation too
                committed = tx.commit_transaction()
            except FileNotFoundError as exc:  # maintenance expired the version we built on and removed its files
                if self.catalog.load_table(name).metadata_location == table.metadata_location:
                    raise
                log.info("table %s changed while this run built its commit (%s); reloading", name, exc)
                recorder.journal.roll_back_files(first_new_file)
                continue
            except CommitFailedException as exc:  # another writer moved the table: re-check the fence, rebase
                log.info("commit to %s lost a race (%s); reloading (attempt %d)", name, exc, attempt + 1)
                recorder.journal.roll_back_files(first_new_file)  # this attempt's manifests
                continue
            return committed
        raise CommitConflictError(f"commit to {name} failed: other writers kept committing first "
                                  f"({self.config.commit_retries + 1} attempts)",
                                  hint="raise the target's commit_retries, or spread the writers of this table")

    def _landed(self, request: WriteRequest, recorder: RecordingIO) -> Table | None:
        """After a failure, did this run's commit land anyway (e.g. a REST catalog timed out after applying it)?
        The job's state property names the run that set it. Files are deleted only when the catalog says no; if
        it cannot be asked, they stay (orphans are safer than deleting data a committed snapshot references)."""
        try:
            table = self.catalog.load_table(self.table_name(request.stream))
            if iceberg_state.token(table.metadata, self.job_key) == request.run_id:
                return table
        except Exception as exc:  # noqa: BLE001 - any failure here means "cannot tell"
            log.warning("could not check whether run %s committed (%s); keeping its files", request.run_id, exc)
            return None
        recorder.journal.roll_back()
        return None

    def _stage(self, table: Table, request: WriteRequest) -> _Staged:
        """Write the run's data files (or hold a merge delta) before the commit, once for all attempts."""
        if self.config.mode is WriteMode.MERGE:
            data = _concat([b for b in request.batches if b.num_rows], request.schema)
            keys = list(request.stream.primary_key) or _identifier_names(table)
            if not keys:
                raise ConfigurationError(f"merge into {self.table_name(request.stream)} needs a primary key",
                                         hint="set primary_key on the source table or primaryKey in the contract")
            data = _last_per_key(data, keys)
            return _Staged(rows=data.num_rows, merge=data, schema=data.schema)
        if table.spec().is_unpartitioned():
            # pyiceberg's own two-stage pattern: write Parquet files, then add them by name in the commit.
            # It streams at the floor's speed, and the state is known before the snapshot is produced.
            files, schema, rows = _write_parquet_files(table, request)
            return _Staged(rows=rows, files=files, schema=schema)
        return _write_partitioned(table, request)

    def _apply(self, tx: Any, table: Table, request: WriteRequest, staged: _Staged) -> None:
        """Build the run's snapshot in `tx` (on the table version of this attempt)."""
        from pyiceberg.expressions import AlwaysTrue

        props = {STATE_JOB_KEY: self.job_key, RUN_ID_KEY: request.run_id}
        if staged.schema is not None:
            _evolve(tx, staged.schema)
        if staged.merge is not None:
            keys = list(request.stream.primary_key) or _identifier_names(table)
            if staged.merge.num_rows:
                tx.upsert(staged.merge, join_cols=keys, snapshot_properties=props)
            else:
                tx.update_snapshot(snapshot_properties=props).fast_append().commit()
            return
        if self.config.mode is WriteMode.OVERWRITE and table.current_snapshot() is not None:
            tx.delete(AlwaysTrue())
        if staged.data_files:
            current = {f.name: f.field_id for f in tx.table_metadata.schema().fields}
            if any(current.get(column) != field_id for column, field_id in staged.field_ids.items()):
                raise CommitConflictError(f"{self.table_name(request.stream)}: another writer changed the schema "
                                          "while this run wrote partitioned files", hint="the retry rewrites them")
            with tx.update_snapshot(snapshot_properties=props).fast_append() as append:
                for data_file in staged.data_files:
                    append.append_data_file(data_file)
            return
        if staged.files:
            _refresh_name_mapping(tx)
            tx.add_files(staged.files, snapshot_properties=props, check_duplicate_files=False)
            return
        tx.update_snapshot(snapshot_properties=props).fast_append().commit()  # state only: one empty snapshot

    def _table_for(self, stream: Stream, schema: pa.Schema) -> Table:
        """Load the table, or create it with its partition spec in one commit. N first runs at once race to
        create it: the losers load the winner's table (a race is not an error)."""
        from pyiceberg.exceptions import NoSuchTableError

        name = self.table_name(stream)
        try:
            return self.catalog.load_table(name)  # the usual case: no namespace round trip
        except NoSuchTableError:
            pass
        try:
            self.catalog.create_namespace_if_not_exists(self.namespace)
        except Exception:  # noqa: BLE001 - another run created it first (IntegrityError on SQL catalogs)
            self.catalog.load_namespace_properties(self.namespace)
        try:
            tx = self.catalog.create_table_transaction(
                name, schema=schema, location=self.config.table_location(f"{self.config.table_prefix}{stream.object}"),
                properties={**self.config.table_properties, "format-version": "2"})
            if self.config.partitioning:
                with tx.update_spec() as spec:
                    for field_config in self.config.partitioning:
                        spec.add_field(field_config.column,
                                       partition_transform(field_config.transform, field_config.width))
            tx.commit_transaction()
        except Exception as exc:  # noqa: BLE001 - lost the creation race: load the winner's table
            try:
                return self.catalog.load_table(name)
            except NoSuchTableError:
                raise exc from None
        return self.catalog.load_table(name)


def _load_catalog(name: str, props: dict[str, str]) -> Catalog:
    """A SQL catalog creates its own tables on first use; N first runs at once race to do so, and the losers
    see "table ... already exists": the tables are there, so load again."""
    from pyiceberg.catalog import load_catalog

    try:
        return load_catalog(name, **props)
    except Exception as exc:
        if "already exists" not in str(exc):
            raise
        return load_catalog(name, **props)


def _write_partitioned(table: Table, request: WriteRequest) -> _Staged:
    """pyiceberg's partitioned writer, in chunks of PARTITIONED_CHUNK_ROWS rows (it needs a table per call),
    all chunks in one snapshot later. The schema is evolved in a scratch transaction to write with the field ids
    the commit will assign."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    staged = _Staged()
    scratch = table.transaction()
    chunk: list[pa.RecordBatch] = []
    rows = 0

    def flush() -> None:
        nonlocal chunk, rows
        data = _concat(chunk, request.schema)
        chunk, rows = [], 0
        if data.num_rows == 0:
            return
        _evolve(scratch, data.schema)
        staged.schema = data.schema if staged.schema is None or len(data.schema) >= len(staged.schema) \
            else staged.schema
        staged.data_files.extend(_dataframe_to_data_files(scratch.table_metadata, data, table.io))
        staged.rows += data.num_rows

    for batch in request.batches:
        if batch.num_rows:
            chunk.append(batch)
            rows += batch.num_rows
        if rows >= PARTITIONED_CHUNK_ROWS:
            flush()
    flush()
    staged.field_ids = {f.name: f.field_id for f in scratch.table_metadata.schema().fields}
    return staged

def _write_parquet_files(table: Table, request: WriteRequest) -> tuple[list[str], pa.Schema, int]:
    """Stream the batches into uniquely named Parquet files under the table's data location (via table.io,
    so a RecordingIO journals them for cleanup). Rolls to a new file every TARGET_FILE_BYTES and whenever the
    batches' schema widens. Returns the files, the widest schema seen and the row count."""
    from .parquet_writer import GROUP_BYTES, GROUP_ROWS, RowGroupWriter

    properties = table.metadata.properties
    codec = properties.get("write.parquet.compression-codec", "zstd")
    group_bytes = int(properties.get("write.parquet.row-group-size-bytes", GROUP_BYTES))
    group_rows = int(properties.get("write.parquet.row-group-limit", GROUP_ROWS))
    target_bytes = int(properties.get("write.target-file-size-bytes", TARGET_FILE_BYTES))
    files: list[str] = []
    writer: RowGroupWriter | None = None
    sink: Any = None  # the OutputStream of the file being written
    schema = request.schema
    rows = 0
    try:
        for batch in request.batches:
            if batch.num_rows == 0:
                continue
            if writer is None or writer.written_bytes >= target_bytes or batch.schema != writer.schema:
                if writer is not None:
                    writer.close()
                    sink.close()
                files.append(f"{table.location().rstrip('/')}/data/dativo-{request.run_id}-{len(files):05d}.parquet")
                sink = table.io.new_output(files[-1]).create(overwrite=False)
                writer = RowGroupWriter(sink, batch.schema, codec, row_group_bytes=group_bytes,
                                        row_group_rows=group_rows)
                schema = batch.schema if len(batch.schema) >= len(schema) else schema
            writer.write(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
            sink.close()
    return files, schema, rows


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
    return [name for i in schema.identifier_field_ids if (name := schema.find_column_name(i)) is not None]


def _last_per_key(data: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row per key: a run may carry several versions of one row; upsert needs one."""
    if data.num_rows == 0:
        return data
    indexed = data.append_column("__dativo_row", pa.array(range(data.num_rows), pa.int64()))
    last = indexed.group_by(keys, use_threads=False).aggregate([("__dativo_row", "max")])
    return data.take(last.column("__dativo_row_max").combine_chunks().sort())


def _commit_info(name: str, table: Table, before: int | None, run_id: str, orphans_removed: int) -> CommitInfo:
    from pyiceberg.table.snapshots import ancestors_of

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
