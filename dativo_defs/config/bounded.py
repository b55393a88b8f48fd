"""Reading a file that a user names, without blocking or reading without bound.

The file is opened non-blocking (a FIFO then opens at once instead of waiting for a writer), checked on the
open descriptor (so a swap between a check and the open cannot slip a FIFO or device in), and read up to a
limit (a file that grows meanwhile is refused, not read to the end).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """A FIFO, device, socket or directory where a file was expected."""


class FileTooLarge(OSError):
    """The file holds more than the limit; `size` is what was seen (at least limit + 1)."""

    def __init__(self, size: int):
        super().__init__(f"{size} bytes")
        self.size = size


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them. Raises NotRegularFile, FileTooLarge or
    the OSError of opening it (missing, unreadable)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileTooLarge(total)
        return b"".join(chunks)
    finally:
        os.close(fd)
