"""Parallel reads of one large PostgreSQL table: block ranges on several connections, all from one snapshot.

One connection reads at the speed of one server backend and one client thread. With `read_connections: N` (N > 1;
opt-in: every run then holds N connections, which a database's connection limits must allow), when the planner would
scan the whole table for the read anyway (a sequential scan, e.g. a full read or a first incremental run) and
estimates at least `PARALLEL_MIN_ROWS` rows, the table's blocks are cut into ranges read at once, each on its
own connection and thread (`WHERE ctid >= '(a,0)' AND ctid < '(b,0)'`: a TID range scan, PostgreSQL 14+).
The first connection exports its snapshot and the others adopt it (`pg_export_snapshot` / `SET TRANSACTION
SNAPSHOT`, as `pg_dump --jobs` does). Every row visible in that snapshot has exactly one location, so together
the ranges return exactly what one SELECT would have: no row twice, none missing, whatever commits meanwhile.
A read the planner would serve from an index (a small incremental read) stays on one connection.

MySQL/MariaDB cannot share a snapshot between connections, so its tables are read on one: ranges read at
different moments could miss a row that moves between them, or move a cursor past a row updated behind a
range already read.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
PARALLEL_MIN_ROWS = 500_000  # below this, the extra connections cost more than they save
TID_RANGE_SCAN_VERSION = 140000  # server_version_num from which a ctid range reads only its own blocks
_SCANS = ("Seq Scan", "Parallel Seq Scan")
_GATHERS = ("Gather", "Gather Merge", "Sort", "Incremental Sort")  # nodes above the scan that do not change it


def block_ranges(blocks: int, parts: int) -> list[tuple[int, int | None]]:
    """Blocks [0, blocks) cut into at most `parts` contiguous, disjoint, non-empty [start, end) ranges of near-equal
    size; the first starts at None (no lower bound) and the last ends at None (no upper bound), so together they
    cover every location, also of blocks added after the table was measured."""
    parts = max(1, min(parts, blocks))
    edges = [blocks * i // parts for i in range(parts + 1)]
    return [(edges[i] if i else None, edges[i + 1] if i < parts - 1 else None) for i in range(parts)]  # type: ignore[misc]


def tid_condition(start: int | None, end: int | None) -> str:
    """The SQL condition selecting the rows stored in blocks [start, end)."""
    conditions = ([f"ctid >= '({start},0)'::tid"] if start is not None else []) + \
        ([f"ctid < '({end},0)'::tid"] if end is not None else [])
    return " AND ".join(conditions) or "true"


@dataclass
class RangePlan:
    """The connections of a parallel read (the first one exported the snapshot the others adopted) and the
    condition of each one's block range."""

    conditions: list[str]
    connections: list[Any] = field(default_factory=list)

    def close(self) -> None:
        """Close every connection, also after one of them broke (a lost server backend)."""
        for connection in self.connections:
            with contextlib.suppress(Exception):  # read-only: nothing to keep; a broken one has nothing to roll back
                connection.rollback()
            with contextlib.suppress(Exception):
                connection.close()
        self.connections.clear()


def plan(connect: Callable[[], Any], select: str, table: str, parts: int) -> RangePlan | None:
    """A parallel read of `table` (already quoted), whose single read is `select` (without ORDER BY), on `parts`
    connections opened by `connect` (autocommit off); or None when one connection should read it: one part asked,
    a read the planner estimates small or serves from an index, a view, an old server."""
    if parts < 2:
        return None
    connections = [connect()]
    try:
        with connections[0].cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SELECT current_setting('server_version_num')::int, c.relkind, "
                        "pg_relation_size(c.oid) / current_setting('block_size')::int "
                        "FROM pg_class c WHERE c.oid = to_regclass($1)", (table,))
            version, kind, blocks = cur.fetchone() or (0, "", 0)
            cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})  # EXPLAIN cannot be COPY'd
            cur.execute(f"EXPLAIN (FORMAT JSON) {select}")
            raw = cur.fetchone()[0]
            node = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            while node["Node Type"] in _GATHERS and node.get("Plans"):
                node = node["Plans"][0]
            estimate = int(node.get("Plan Rows", 0))
            if (version < TID_RANGE_SCAN_VERSION or kind not in ("r", "m") or node["Node Type"] not in _SCANS
                    or estimate < PARALLEL_MIN_ROWS or blocks < 2):
                log.debug("%s read on one connection (%s, estimated %d rows)", table, node["Node Type"], estimate)
                _declined(connections)
                return None
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
        ranges = block_ranges(int(blocks), parts)
        for _ in ranges[1:]:
            connections.append(connect())
            with connections[-1].cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # pg_export_snapshot's own text
    except BaseException:
        _declined(connections)
        raise
    log.info("reading %s (about %d rows, %d blocks) on %d connections sharing snapshot %s", table, estimate, blocks,
             len(ranges), snapshot)
    return RangePlan([tid_condition(start, end) for start, end in ranges], connections)


def _declined(connections: list[Any]) -> None:
    RangePlan([], connections).close()
