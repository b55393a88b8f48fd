"""`dativo maintain`: keep a job's Iceberg tables healthy while its runs go on.

For each table the job writes: migrate state kept only in snapshot summaries to table properties, expire
snapshots older than the retention (keeping the newest `retain_last`), remove orphan files older than the grace
period, and compact small data files. Every step is safe beside running jobs (see
targets/iceberg_maintenance.py); a run that overlaps maintenance still lands exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..config.loader import Job
from ..config.paths import dativo_home
from .sources import load_source
from .targets import load_target
from .targets.iceberg import TARGET_FILE_BYTES, IcebergTarget
from .targets.iceberg_maintenance import MaintenanceReport, compact, expire_snapshots, migrate_states, remove_orphans


@dataclass(frozen=True)
class MaintenanceSettings:
    """Defaults follow Iceberg's own: snapshots older than 5 days expire (history.expire.max-snapshot-age-ms),
    at least 1 is kept, orphans must be 3 days old (Spark's remove_orphan_files), and files under 75% of the
    target size are rewritten (Spark's rewrite_data_files min-file-size)."""

    older_than: timedelta = timedelta(days=5)
    retain_last: int = 1
    orphan_grace: timedelta = timedelta(days=3)
    compact: bool = True
    target_file_bytes: int = TARGET_FILE_BYTES

    @property
    def small_file_bytes(self) -> int:
        return int(self.target_file_bytes * 0.75)


def maintain_job(job: Job, settings: MaintenanceSettings = MaintenanceSettings()) -> list[MaintenanceReport]:
    cfg = job.config
    target = load_target(cfg.target, cfg.tenant_id, job.name, dativo_home(), job.base_dir)
    source = load_source(cfg.source, job.base_dir)
    try:
        streams = source.streams()
    finally:
        source.close()
    reports = []
    try:
        for stream in streams:
            name = target.table_name(stream)
            report = MaintenanceReport(table=name)
            reports.append(report)
            if not isinstance(target, IcebergTarget):
                report.notes.append("Parquet datasets keep no snapshots: nothing to maintain")
                continue
            if not target.catalog.table_exists(name):
                report.notes.append("table does not exist yet")
                continue
            table = target.catalog.load_table(name)
            report.states_migrated = migrate_states(table)
            report.snapshots_expired = expire_snapshots(table, settings.older_than, settings.retain_last)
            if settings.compact:
                report.files_compacted, report.files_written = compact(table, settings.small_file_bytes,
                                                                       settings.target_file_bytes)
                if report.files_compacted:  # the replaced files become orphans once their snapshots expire
                    report.snapshots_expired += expire_snapshots(table, settings.older_than, settings.retain_last)
            report.orphans_removed = remove_orphans(table, settings.orphan_grace)
    finally:
        target.close()
    return reports
