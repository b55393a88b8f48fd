"""Human-readable views of a loaded project (the `dativo validate` table)."""

from __future__ import annotations

from .loader import Job, Project, ScheduledJob

COLUMNS = ("schedule", "tenant", "source -> target", "cadence", "timezone", "owner", "enabled")


def cadence(entry: ScheduledJob) -> str:
    s = entry.schedule
    return f"cron {s.cron}" if s.cron else f"every {s.interval_seconds}s"


def schedule_row(entry: ScheduledJob) -> tuple[str, ...]:
    job = entry.job.config
    objects = ",".join(entry.job.objects)
    return (
        entry.schedule.name,
        job.tenant_id,
        f"{job.source.type}({objects}) -> {job.target.type}",
        cadence(entry),
        entry.schedule.timezone,
        entry.owner.value,
        "yes" if entry.schedule.enabled else "no",
    )


def manual_row(job: Job) -> tuple[str, ...]:
    """An unscheduled job (from `runner.jobs`): run by hand on either orchestrator."""
    config = job.config
    return (f"{job.tenant_id}/{job.name}", config.tenant_id,
            f"{config.source.type}({','.join(job.objects)}) -> {config.target.type}", "manual", "-", "any", "-")


def schedule_table(project: Project) -> str:
    rows = [COLUMNS] + [schedule_row(e) for e in project.scheduled] + [manual_row(j) for j in project.unscheduled]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
