"""Read ahead on other cores: bounded producer threads between the source and the target.

The source side (driver reads, contract checks) runs in threads while the target encodes and writes Parquet
in the caller's thread; the Arrow-native drivers (ADBC, connectorx) and pyarrow's Parquet writer release the
GIL, so they overlap. `interleave` runs several producers at once (one per key range of a parallel read) into
one stream. The queue holds at most `depth` items, so memory stays bounded whatever the size of the source.
An exception raised by a producer reaches the consumer at the point of the failed item and stops the other
producers; a consumer that stops early (a failed write) stops every producer too, which closes its generator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
READ_AHEAD_BATCHES = 2


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(items: Iterator[T], depth: int = READ_AHEAD_BATCHES) -> Iterator[T]:
    """Yield what `items` yields, produced by a background thread at most `depth` items ahead."""
    return interleave([items], depth)


def interleave(sources: Sequence[Iterator[T]], depth: int = READ_AHEAD_BATCHES) -> Iterator[T]:
    """Yield what all `sources` yield, each produced by its own thread (order kept within a source, not across
    sources), at most `depth` items ahead in all."""
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

    def produce(items: Iterator[T]) -> None:
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

    threads = [threading.Thread(target=produce, args=(items,), name="dativo-read-ahead", daemon=True)
               for items in sources]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = slots.get()
            if item is _DONE:
                running -= 1
                continue
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
