"""The boundary/lookback window (sources/window.py) over many runs, for all interleavings hypothesis finds:
a simulated table (rows with an integer cursor, inserted late or at the boundary between runs) is read the way
the SQL source reads it (`cursor >= lower bound`, ordered), through `Window.admit`, and the committed state is
carried between runs. Whatever the bound on remembered rows, nothing lands twice; while the window fits the
bound, every row whose cursor is within `lookback` of the last cursor when it arrives lands."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from dativo_defs.engine.sources.window import Window

SEED = 20261207
LOOKBACK = 5

# one run = rows inserted before it: (cursor offset relative to the current max cursor, copies)
runs = st.lists(st.lists(st.tuples(st.integers(-8, 3), st.integers(1, 3)), max_size=6), min_size=1, max_size=8)


def simulate(plan, limit: int, primary_key: bool, upsert: bool = False, migrate: bool = False):
    table: list[dict] = []
    landed: list[dict] = []
    state = None
    expected_missing: list[dict] = []
    next_id = 0
    for inserts in plan:
        top = max((r["c"] for r in table), default=0)
        for offset, copies in inserts:
            for _ in range(copies):
                new = {"id": next_id, "c": max(0, top + offset), "v": "x"}
                next_id += 1
                table.append(new)
                if state is not None and new["c"] < top - LOOKBACK:
                    expected_missing.append(new)  # older than the window when it arrived: not promised
        window = Window("c", LOOKBACK, ("id",) if primary_key else (), state, upsert=upsert, limit=limit)
        bound = window.lower_bound()
        rows = sorted((r for r in table if bound is None or (r["c"] >= bound[0] if bound[1] else r["c"] > bound[0])),
                      key=lambda r: r["c"])
        out = []
        for start in range(0, len(rows), 4):  # small batches
            batch = window.admit(pa.RecordBatch.from_pylist(rows[start:start + 4]))
            out.extend(batch.to_pylist())
        if out:
            landed.extend(out)
            state = json.loads(json.dumps(window.next_state()))  # what the target stores
            if migrate:  # a state seeded as {"cursor": ...} (older runs, upstream migration)
                state, migrate = {"cursor": state["cursor"]}, False
    return table, landed, expected_missing, state


@seed(SEED)
@settings(max_examples=150, deadline=None, print_blob=True)
@given(plan=runs, primary_key=st.booleans())
def test_fits_the_bound_lands_every_row_once(plan, primary_key):
    table, landed, missing, _ = simulate(plan, limit=10_000, primary_key=primary_key)
    ids = Counter(r["id"] for r in landed)
    assert max(ids.values(), default=1) == 1, "a row landed twice"
    if primary_key:
        assert set(ids) | {r["id"] for r in missing} == {r["id"] for r in table}
    else:  # identical rows without a key are one row to the hash: compare contents as multisets per value
        assert {(r["c"], r["v"]) for r in table} - {(r["c"], r["v"]) for r in missing} <= \
            {(r["c"], r["v"]) for r in landed}


@seed(SEED)
@settings(max_examples=150, deadline=None, print_blob=True)
@given(plan=runs)
def test_a_tiny_bound_narrows_the_window_but_never_duplicates(plan):
    table, landed, _, state = simulate(plan, limit=2, primary_key=True)
    assert max(Counter(r["id"] for r in landed).values(), default=1) == 1
    assert state is None or len(state["window"]["keys"]) <= 2 * 12  # base64 of at most 2 keys



@seed(SEED)
@settings(max_examples=100, deadline=None, print_blob=True)
@given(plan=runs)
def test_upsert_targets_never_narrow_the_window(plan):
    """Merge by key: over the bound, unremembered rows are re-sent (the target upserts them), none is lost."""
    table, landed, missing, state = simulate(plan, limit=2, primary_key=True, upsert=True)
    assert {r["id"] for r in landed} | {r["id"] for r in missing} == {r["id"] for r in table}
    assert state is None or "from" in state["window"]

def test_boundary_group_larger_than_the_bound_reads_after_it():
    rows = [{"id": i, "c": 7} for i in range(5)]
    window = Window("c", 0, ("id",), None, limit=3)
    window.admit(pa.RecordBatch.from_pylist(rows))
    state = window.next_state()
    assert state["window"]["after"] == 7 and state["cursor"] == 7


def test_nothing_new_keeps_the_state_unchanged():
    window = Window("c", 2, ("id",), None)
    window.admit(pa.RecordBatch.from_pylist([{"id": 1, "c": 1}, {"id": 2, "c": 2}]))
    state = json.loads(json.dumps(window.next_state()))
    again = Window("c", 2, ("id",), state)
    assert again.lower_bound() == (0, True)
    batch = again.admit(pa.RecordBatch.from_pylist([{"id": 1, "c": 1}, {"id": 2, "c": 2}]))
    assert batch.num_rows == 0


@seed(SEED)
@settings(max_examples=100, deadline=None, print_blob=True)
@given(plan=runs)
def test_a_state_without_window_continues_without_duplicates(plan):
    _, landed, _, _ = simulate(plan, limit=10_000, primary_key=True, migrate=True)
    assert max(Counter(r["id"] for r in landed).values(), default=1) == 1


# --- landed files (sources/landed.py) ------------------------------------------------------------------------

files_plan = st.lists(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=5), min_size=1, max_size=8)


def simulate_files(plan, limit: int):
    """Each run: new files arrive (mtime anywhere, old ones included), some earlier files are deleted."""
    from dativo_defs.engine.sources.landed import LandedFiles, ListedFile

    present: dict[str, float] = {}
    landed: list[str] = []
    state = None
    number = 0
    for arrivals in plan:
        for mtime, delete_oldest in arrivals:
            present[f"f{number}"] = float(mtime)
            number += 1
            if delete_oldest and len(present) > 1:
                present.pop(min(present, key=lambda p: (present[p], p)))
        listing = [ListedFile(p, m, hash((p, m)) & (2**64 - 1)) for p, m in present.items()]
        landed_files = LandedFiles(state, limit=limit)
        read = [f for f in listing if not landed_files.is_landed(f)]
        if read:
            landed.extend(f.path for f in read)
            state = json.loads(json.dumps(landed_files.next_state(listing, read)))
    return present, landed, state


@seed(SEED)
@settings(max_examples=150, deadline=None, print_blob=True)
@given(plan=files_plan)
def test_every_file_lands_once_whatever_its_mtime(plan):
    present, landed, _ = simulate_files(plan, limit=10_000)
    assert max(Counter(landed).values(), default=1) == 1
    assert set(present) <= set(landed)  # late files with old mtimes included


@seed(SEED)
@settings(max_examples=150, deadline=None, print_blob=True)
@given(plan=files_plan)
def test_a_tiny_file_bound_folds_into_a_floor_and_never_duplicates(plan):
    _, landed, state = simulate_files(plan, limit=2)
    assert max(Counter(landed).values(), default=1) == 1
    assert state is None or len(state["files"]["landed"]) <= 2 * 12
