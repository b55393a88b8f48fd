"""Which files of a glob have landed, so `file_modified_time` never skips a file that arrives late.

A file is identified by its path plus its S3 ETag, or else its size and modification time; a file counts as new
until its identity has landed, whatever its mtime (copies made with `cp -p`, rsync or S3 multipart keep old
mtimes). A file changed in place gets a new identity and lands again (the whole file).

Retention (keeps the state bounded on long-lived prefixes):
- identities of files that no longer match the glob are forgotten at the next commit (they cannot be re-read);
- at most MAX_LANDED_FILES identities (8 bytes each, base64) are kept; beyond that the oldest landed files by
  mtime are folded into `floor`: a file whose mtime is at or before it counts as landed. Only then can a late
  file be skipped: one that arrives with an mtime older than the newest folded file.

State: `{"files": {"landed": base64 of sorted 64-bit identities, "floor": epoch seconds or null}}`. The state
of earlier versions (`{"mtime", "files_at_mtime"}`) is read as a floor.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from ...config.sources import MAX_LANDED_FILES
from .base import State
from .window import pack, unpack


class ListedFile(NamedTuple):
    path: str
    mtime: float
    identity: int


def identity(path: str, info: dict[str, Any], mtime: float) -> int:
    etag = info.get("ETag") or info.get("etag")
    parts = [path, str(etag)] if etag else [path, info.get("size"), mtime]
    text = json.dumps(parts, default=str)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class LandedFiles:
    def __init__(self, state: State | None, limit: int = MAX_LANDED_FILES):
        self.limit = limit
        files = (state or {}).get("files") or {}
        self.landed: set[int] = unpack(files["landed"]) if files.get("landed") else set()
        self.floor: float | None = files.get("floor")
        self.legacy = (state or {}).get("mtime"), set((state or {}).get("files_at_mtime", []))

    def is_landed(self, file: ListedFile) -> bool:
        if file.identity in self.landed or (self.floor is not None and file.mtime <= self.floor):
            return True
        last, at_last = self.legacy
        return last is not None and (file.mtime < last or (file.mtime == last and file.path in at_last))

    def next_state(self, listing: list[ListedFile], read: list[ListedFile]) -> State:
        """Landed after this commit: what was landed and still matches, plus what was read now."""
        new = {f.identity for f in read}
        landed = sorted((f for f in listing if f.identity in new or self.is_landed(f)), key=lambda f: f.mtime)
        floor = self.floor
        if self.legacy[0] is not None:  # fold an old-style state: everything before its mtime had landed
            floor = max(floor or 0.0, float(self.legacy[0]) - 1e-6)
        if len(landed) > self.limit:
            folded = landed[:len(landed) - self.limit]
            floor = max(floor or 0.0, folded[-1].mtime)
        keys = {f.identity for f in landed if floor is None or f.mtime > floor}
        return {"files": {"landed": pack(keys), "floor": floor}}
