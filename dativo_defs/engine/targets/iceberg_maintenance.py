"""Table maintenance that is safe while jobs run: expire snapshots, remove orphan files, compact small files.

Safety while a job overlaps:
- job state lives in table properties (iceberg_state), which expiry and compaction never touch; state still
  kept only in snapshot summaries is migrated to properties before any snapshot is expired;
- a file is an orphan only when the current metadata references it nowhere, it is older than the grace period,
  and no live run's write journal names it (a running job's files are journaled before they are created);
- compaction replaces files in one optimistic commit; a job that commits meanwhile rebases onto it, and a
  compaction that loses the race fails without touching the data.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.update import AssertRefSnapshotId

from .base import RUN_ID_KEY, STATE_JOB_KEY
from .iceberg_journal import JOURNAL_DIR, delete_quietly, is_dead, journals, list_files
from .iceberg_state import CommittedState, jobs_with_summary_state, property_key, transaction_without_retries

log = logging.getLogger(__name__)
MAINTAIN_JOB = "dativo/maintain"  # the dativo.job of compaction snapshots


@dataclass
class MaintenanceReport:
    table: str
    states_migrated: int = 0
    snapshots_expired: int = 0
    orphans_removed: int = 0
    files_compacted: int = 0
    files_written: int = 0
    notes: list[str] = field(default_factory=list)


def referenced_files(table: Table) -> set[str]:
    """Every file the current metadata references: metadata files, and for every retained snapshot its manifest
    list, manifests and data/delete files (statistics files too)."""
    metadata = table.metadata
    refs = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    refs.update(s.statistics_path for s in metadata.statistics)
    refs.update(s.statistics_path for s in metadata.partition_statistics)
    seen: set[str] = set()
    for snapshot in metadata.snapshots:
        refs.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            refs.add(manifest.manifest_path)
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                refs.add(entry.data_file.file_path)
    return refs


def migrate_states(table: Table, attempts: int = 5) -> int:
    """Copy state kept only in snapshot summaries into per-job properties. Fenced on `main`, so a job that
    commits meanwhile (and writes its own, newer property) is never overwritten."""
    for _ in range(attempts):
        table.refresh()
        pending = jobs_with_summary_state(table)
        if not pending:
            return 0
        tx = table.transaction()
        current = table.current_snapshot()
        tx._stage((), (AssertRefSnapshotId(ref="main", snapshot_id=current.snapshot_id if current else None),))
        tx.set_properties({property_key(job): CommittedState(state, None).property_value("migrated", state)
                           for job, state in pending.items()})
        try:
            tx.commit_transaction()
            return len(pending)
        except CommitFailedException:
            continue
    raise CommitFailedException(f"{table.name()}: jobs kept committing while their state was being migrated")


def expire_snapshots(table: Table, older_than: timedelta, retain_last: int, attempts: int = 5) -> int:
    """Expire snapshots older than `older_than`, keeping at least the newest `retain_last` of main (and every
    snapshot a branch or tag points at, as pyiceberg protects them). A job committing meanwhile only adds a
    snapshot: the expiry is recomputed on the new table version and tried again."""
    for _ in range(attempts):
        table.refresh()
        cutoff = datetime.now(UTC) - older_than
        newest = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)
        keep = {s.snapshot_id for s in newest[:max(retain_last, 1)]}
        expired = [s.snapshot_id for s in table.metadata.snapshots
                   if s.snapshot_id not in keep and s.timestamp_ms < cutoff.timestamp() * 1000]
        if not expired:
            return 0
        try:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
            return len(expired)
        except CommitFailedException:
            continue
    raise CommitFailedException(f"{table.name()}: jobs kept committing while its snapshots were being expired")


def remove_orphans(table: Table, grace: timedelta) -> int:
    """Delete files under the table location that the metadata does not reference, older than `grace`, not
    named by the journal of a run that may still be alive.

    The order matters beside running jobs: list the files, then read the journals, then reload the metadata. A
    listed file was journaled before it was created; if its run commits before the reload, the reload
    references it, and if later, its journal (removed only after the commit) protected it."""
    started = time.time()
    location = table.location().rstrip("/")
    listed = list_files(table.io, location, recursive=True)
    protected: set[str] = set()
    for found in journals(table.io, location):
        if not is_dead(found, int(grace.total_seconds())):
            protected.update(found.files)
    table.refresh()
    refs = referenced_files(table)
    cutoff = min(started, time.time() - grace.total_seconds())
    removed = 0
    for path, modified in listed:
        if f"/{JOURNAL_DIR}/" in path or path in refs or path in protected or modified > cutoff:
            continue
        if path.endswith((".metadata.json", ".metadata.json.gz")):
            continue  # metadata files are the catalog's history; never ours to drop
        if delete_quietly(table.io, path) == "deleted":
            removed += 1
    return removed


def compact(table: Table, small_file_bytes: int, target_file_bytes: int, attempts: int = 5) -> tuple[int, int]:
    """Rewrite the data files smaller than `small_file_bytes` of an unpartitioned table without delete files
    into files of up to `target_file_bytes`, in one replace commit. The new files are written once; when a job
    commits meanwhile, the replace is rebuilt on the new table version as long as every file it replaces is
    still live (a job's append never conflicts with it). Returns (files replaced, files written)."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    table.refresh()
    small = _small_files(table, small_file_bytes)
    if len(small) < 2:
        return 0, 0
    small = small[: max(2, _fit(small, target_file_bytes))]
    pieces = []
    for data_file in small:
        with table.io.new_input(data_file.file_path).open() as stream:
            pieces.append(pq.read_table(stream))
    merged = _project(pieces, table.schema().as_arrow())
    written = list(_dataframe_to_data_files(table.metadata, merged, table.io))
    props = {STATE_JOB_KEY: MAINTAIN_JOB, RUN_ID_KEY: str(uuid.uuid4())}
    for _ in range(attempts):
        live = {f.file_path for f in _small_files(table, small_file_bytes)}
        if not all(f.file_path in live for f in small) or not table.spec().is_unpartitioned():
            break  # someone else rewrote them: ours are not needed
        tx = transaction_without_retries(table)
        with tx.update_snapshot(snapshot_properties=props).overwrite() as rewrite:
            for data_file in small:
                rewrite.delete_data_file(data_file)
            for data_file in written:
                rewrite.append_data_file(data_file)
        try:
            tx.commit_transaction()
            return len(small), len(written)
        except CommitFailedException:
            table.refresh()
    for data_file in written:
        delete_quietly(table.io, data_file.file_path)
    return 0, 0


def _small_files(table: Table, small_file_bytes: int) -> list:
    snapshot = table.current_snapshot()
    if snapshot is None or not table.spec().is_unpartitioned():
        return []
    small = []
    for manifest in snapshot.manifests(table.io):
        if manifest.content.value != 0:  # delete files present: leave compaction to an engine that applies them
            return []
        for entry in manifest.fetch_manifest_entry(table.io):
            if entry.data_file.file_size_in_bytes < small_file_bytes:
                small.append(entry.data_file)
    return small


def _fit(files: list, target_file_bytes: int) -> int:
    total, count = 0, 0
    for data_file in files:
        total += data_file.file_size_in_bytes
        count += 1
        if total >= target_file_bytes:
            break
    return count


def _project(pieces: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """Files written by dativo carry no field ids; read them by name onto the table's current schema."""
    columns = []
    for piece in pieces:
        arrays = [piece.column(f.name).cast(f.type) if f.name in piece.column_names else pa.nulls(len(piece), f.type)
                  for f in schema]
        columns.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(columns)
