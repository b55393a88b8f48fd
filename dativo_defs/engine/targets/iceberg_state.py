"""Where a job's incremental state lives in an Iceberg table, and how a commit is fenced against it.

The state is a table property, one per job: `dativo.state.<tenant>/<job>` = `{"run_id": ..., "state": ...}`.
It is set in the same metadata commit as the run's snapshot, so data and state still land together, and unlike
a snapshot summary it survives `expire_snapshots`, compaction and any other writer's commits.

The property's `run_id` is the fence token: a run may commit only while the token is the one it read. Every
dativo commit of a job also adds a snapshot to `main`, so a commit of the same job since the read always moves
`main`, which fails the optimistic commit; the retry loop then re-reads the token and gives up (another run of
the job committed) or rebases (another job or engine committed).

Tables written before this layout keep the state only in snapshot summaries (`dativo.job`, `dativo.state`);
`read` falls back to them, and the target's `read_state` (or `dativo maintain`) writes them as properties at
once (migration, losing nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..sources.base import State
from .base import STATE_JOB_KEY, STATE_KEY

if TYPE_CHECKING:  # imported where used: the no-new-rows probe reads states without loading pyiceberg
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.metadata import TableMetadata

PROPERTY_PREFIX = "dativo.state."


def property_key(job_key: str) -> str:
    return f"{PROPERTY_PREFIX}{job_key}"


@dataclass(frozen=True)
class CommittedState:
    """A job's committed state as read from table metadata. `token` is the run id of the commit that set the
    property (None when the property is absent: a fresh job or a table of the summary-only layout)."""

    state: State | None
    token: str | None
    legacy: bool = False  # found only in a snapshot summary (the older layout): to be migrated to the property

    def property_value(self, run_id: str, state: State | None) -> str:
        return json.dumps({"run_id": run_id, "state": state}, sort_keys=True, separators=(",", ":"))


def from_properties(properties: Mapping[str, str], job_key: str) -> CommittedState | None:
    """The job's state from its table property; None when the table has none for the job."""
    raw = properties.get(property_key(job_key))
    if raw is None:
        return None
    value = json.loads(raw)
    return CommittedState(value.get("state"), value.get("run_id"))


def read(metadata: TableMetadata, job_key: str) -> CommittedState:
    committed = from_properties(metadata.properties, job_key)
    if committed is not None:
        return committed
    legacy = _from_summaries(metadata, job_key)
    if legacy is not None:
        return CommittedState(legacy, None, legacy=True)
    return CommittedState(None, None)


def token(metadata: TableMetadata, job_key: str) -> str | None:
    """The fence token now in `metadata` (the run id of the job's last commit, if it wrote the property)."""
    raw = metadata.properties.get(property_key(job_key))
    return json.loads(raw).get("run_id") if raw is not None else None


def jobs_with_summary_state(table: Table) -> dict[str, State | None]:
    """Per job, the newest state kept only in snapshot summaries of `table` (what maintenance must migrate to
    properties before it expires those snapshots)."""
    found: dict[str, State | None] = {}
    for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True):
        summary = snapshot.summary
        if summary is None:
            continue
        job = summary[STATE_JOB_KEY]
        if job and job not in found and property_key(job) not in table.metadata.properties:
            raw = summary[STATE_KEY]
            found[job] = json.loads(raw) if raw else None
    return found


def _from_summaries(metadata: TableMetadata, job_key: str) -> State | None:
    """The newest snapshot of the main branch written by this job carries its state (the older layout)."""
    from pyiceberg.table.snapshots import ancestors_of

    current = metadata.current_snapshot()
    if current is None:
        return None
    for snapshot in ancestors_of(current, metadata):
        summary = snapshot.summary
        if summary is not None and summary[STATE_JOB_KEY] == job_key:
            raw = summary[STATE_KEY]
            return json.loads(raw) if raw else None
    return None


def same_state(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def transaction_without_retries(table: Table) -> Transaction:
    """A transaction whose commit fails at once on a concurrent update instead of rebasing inside pyiceberg
    (`commit.retry.num-retries` read from a private view of the metadata; the table's own property, which other
    engines honour, is left alone): dativo's own loop re-checks the fence before every rebase."""
    from pyiceberg.table import Table

    view = Table(table._identifier,  # noqa: SLF001 - pyiceberg has no public constructor for a view
                 table.metadata.model_copy(update={"properties": {**table.metadata.properties,
                                                                  "commit.retry.num-retries": "0"}}),
                 table.metadata_location, table.io, table.catalog)
    return view.transaction()
