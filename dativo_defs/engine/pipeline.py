"""Read ahead on a second core: a bounded producer thread between the source and the target.

The source side (driver reads, contract checks) runs in a thread while the target encodes and writes Parquet
in the caller's thread; the Arrow-native drivers (ADBC, connectorx) and pyarrow's Parquet writer release the
GIL, so the two overlap. The queue holds at most `depth` batches, so memory stays bounded whatever the size of
the source. Exceptions raised while reading reach the consumer at the point of the failed batch; a consumer
that stops early (a failed write) stops the reader too, which closes the source's generator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
READ_AHEAD_BATCHES = 2


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(items: Iterator[T], depth: int = READ_AHEAD_BATCHES) -> Iterator[T]:
    """Yield what `items` yields, produced by a background thread at most `depth` items ahead."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="dativo-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
