"""Keep a long run's memory flat: large freed buffers go back to the operating system.

The Arrow-native drivers (ADBC, connectorx) allocate their record batches with the C library's malloc. glibc
serves an allocation above its mmap threshold with its own mapping and unmaps it when freed, but after the first
such free it raises the threshold (up to 32 MB), so later batches come from its heaps, which fragment: peak RSS
then climbs with the length of a run, although the pipeline never holds more than a bounded number of batches
(docs/BENCHMARKS.md). A fixed threshold keeps batch-sized buffers mapped and returned on free. glibc only;
elsewhere nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform

log = logging.getLogger(__name__)
MMAP_THRESHOLD_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


@functools.cache
def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES, once per process; whether it was set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError) as exc:  # no mallopt: a different C library
        log.debug("mmap threshold not set (%s)", exc)
        return False
