"""Cost of the incremental window (sources/window.py): rows/s through `Window.admit`, 100k rows in 10k-row batches.

  window-all   every row inside the lookback window: each is keyed (primary key + cursor, or the whole row)
  boundary     lookback 0 over rows ordered by a unique cursor: only the newest row of each batch is keyed
Usage: python -m tests.bench.bench_window
"""

from __future__ import annotations

import json
import time

import pyarrow as pa

from dativo_defs.engine.sources.window import Window

ROWS, BATCH = 100_000, 10_000


def measure(lookback: int, primary_key: tuple[str, ...]) -> float:
    batch = pa.RecordBatch.from_pydict({"id": list(range(ROWS)), "c": list(range(ROWS)), "v": ["x" * 20] * ROWS})
    window = Window("c", lookback, primary_key, None, limit=10**9)
    start = time.perf_counter()
    for offset in range(0, ROWS, BATCH):
        window.admit(batch.slice(offset, BATCH))
    return ROWS / (time.perf_counter() - start)


if __name__ == "__main__":
    print(json.dumps({f"{name} ({'primary key' if pk else 'row hash'})": round(measure(lookback, pk))
                      for name, lookback in (("window-all", ROWS), ("boundary", 0)) for pk in (("id",), ())},
                     indent=2))
