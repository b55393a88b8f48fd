"""What a run of the embedded catalog needs before it knows whether there is anything to write, read without
importing pyiceberg (issue 15: a run that finds no new rows should not pay pyiceberg's ~0.3 s start-up).

The embedded catalog is a SQLite file (iceberg_catalog) pointing at table metadata JSON on the local disk; the
job's committed state is a table property in that JSON (iceberg_state). This module reads just those with sqlite3
and json. It only ever reads: the commit is fenced against the catalog as it stands at commit time, whatever was
read here (targets/iceberg.py `_commit`), so a probe can never let a stale state through.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

JOURNAL_DIR = "dativo-inflight"  # iceberg_journal's write journals, under the table location
_TABLE_ROW = "catalog_name = ? AND table_namespace = ? AND table_name = ?"


def sqlite_path(uri: str) -> tuple[str, float]:
    """The file and busy timeout (seconds) of a `sqlite:///PATH[?timeout=S]` URI (SQLAlchemy's form: a relative
    PATH, or an absolute one as in `sqlite:////abs/catalog.db`)."""
    path, _, query = uri.removeprefix("sqlite:///").partition("?")
    if not uri.startswith("sqlite:///") or not path:
        raise ValueError(f"the embedded catalog needs a sqlite:///PATH uri, got {uri!r}")
    return path, float(parse_qs(query).get("timeout", ["5"])[0])


def local_path(location: str) -> str | None:
    """The local path of a `file://` (or plain path) location; None for object stores."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return unquote(parts.path)
    return location if not parts.scheme else None


def metadata_location(uri: str, catalog: str, namespace: str, table: str) -> str | None:
    """The table's current metadata file as the catalog file records it; None when the file, its tables or the
    table do not exist yet."""
    path, timeout = sqlite_path(uri)
    if not os.path.exists(path):
        return None
    try:
        with closing(sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, timeout=timeout)) as conn:
            row = conn.execute(f"SELECT metadata_location FROM iceberg_tables WHERE {_TABLE_ROW}",
                               (catalog, namespace, table)).fetchone()
    except sqlite3.OperationalError:  # no tables in it yet
        return None
    return row[0] if row else None


def table_metadata(location: str) -> dict[str, Any] | None:
    """The metadata JSON of a local metadata file (gzip-compressed ones too); None if it is not local."""
    path = local_path(location)
    if path is None:
        return None
    opener: Any = gzip.open if path.endswith(".gz.metadata.json") else open
    with opener(path, "rb") as stream:
        value = json.loads(stream.read())
    return value if isinstance(value, dict) else None


def has_journals(table_dir: str) -> bool:
    """Whether the local table directory holds any write journal (of a live run, or of a dead one to sweep)."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), \
            os.scandir(f"{table_dir.rstrip('/')}/{JOURNAL_DIR}") as entries:
        return next(entries, None) is not None
    return False
