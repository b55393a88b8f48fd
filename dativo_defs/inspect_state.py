"""Read-only views of what a job has committed: the state and the run that set it, per object.

`preview --incremental` and `show` use these; unlike a target's `read_state` (the first step of a run), they
never sweep, recover or migrate anything: looking writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .config.loader import Job
from .config.paths import dativo_home
from .engine.sources.base import Stream
from .engine.targets import load_target
from .engine.targets.base import Target


@dataclass(frozen=True)
class Committed:
    """A job's committed state for one object (None: never committed) and the run id that committed it."""

    table: str
    state: Any
    run_id: str | None


def open_target(job: Job) -> Target:
    return load_target(job.config.target, job.config.tenant_id, job.name, dativo_home(), job.base_dir)


def committed(target: Target, stream: Stream) -> Committed:
    name = target.table_name(stream)
    if target.config.type == "iceberg":
        from pyiceberg.exceptions import NoSuchTableError

        from .engine.targets import iceberg_state

        try:
            table = target.catalog.load_table(name)  # type: ignore[attr-defined]
        except NoSuchTableError:
            return Committed(name, None, None)
        found = iceberg_state.read(table.metadata, target.job_key)
        return Committed(name, found.state, found.token)
    for path in reversed(_commit_entries(target, stream)):  # parquet: newest commit entry of the job
        entry = json.loads(target.fs.cat_file(path))  # type: ignore[attr-defined]
        if entry["job"] == target.job_key:
            return Committed(name, entry["state"], entry.get("run_id"))
    return Committed(name, None, None)


def _commit_entries(target: Target, stream: Stream) -> list[str]:
    _, _, commits = target._dirs(stream)  # type: ignore[attr-defined]
    if not target.fs.exists(commits):  # type: ignore[attr-defined]
        return []
    return target._commit_paths(stream)  # type: ignore[attr-defined]
