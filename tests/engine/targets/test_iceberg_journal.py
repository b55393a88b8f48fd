"""The write-ahead journal: a later write deletes only the files of runs that are known dead and never
committed; live runs, runs on other hosts inside the grace period and committed runs keep their files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.runner import run_job
from dativo_defs.engine.targets.iceberg_journal import HOST, JOURNAL_DIR
from tests.engine.helpers import iceberg_catalog, read_iceberg, referenced_data_files


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant(table_root: Path, run_id: str, host: str, pid: int, age_seconds: float, files: list[Path]) -> Path:
    for file in files:
        if not file.exists():
            file.write_bytes(b"PAR1 partial")
    journal = table_root / JOURNAL_DIR / f"{run_id}.json"
    journal.parent.mkdir(exist_ok=True)
    journal.write_text(json.dumps({"run_id": run_id, "job": "t2/items", "host": host, "pid": pid,
                                   "updated_at": time.time() - age_seconds, "files": [f.as_uri() for f in files]}))
    return journal


def test_sweep_deletes_only_dead_uncommitted_runs(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(10)))
    job = load_job(write("jobs/t2/items.yaml", """
        tenant_id: t2
        source: {type: jsonl, files: [{path: ../../data/items.jsonl, object: items}]}
        target: {type: iceberg, orphan_grace_seconds: 600}
    """))
    first = run_job(job)
    assert first.status is RunStatus.SUCCESS
    root = Path(iceberg_catalog(dativo_home).load_table("t2.items").location().removeprefix("file://"))
    committed = sorted(referenced_data_files(dativo_home, "t2.items"))
    files = {name: root / "data" / f"dativo-{name}-00000.parquet" for name in ("dead", "young", "live", "remote")}
    planted = {
        "dead": _plant(root, "dead", HOST, _dead_pid(), 700, [files["dead"]]),
        "young": _plant(root, "young", HOST, _dead_pid(), 60, [files["young"]]),  # inside the grace period
        "live": _plant(root, "live", HOST, __import__("os").getpid(), 700, [files["live"]]),  # still running
        "remote": _plant(root, "remote", "another-host", 1, 3600, [files["remote"]]),  # cannot tell: < 24 h
        "landed": _plant(root, first.run_id, HOST, _dead_pid(), 700, [Path(committed[0])]),  # committed
    }

    second = run_job(job)

    assert second.status is RunStatus.SUCCESS, second.error
    assert not files["dead"].exists() and not planted["dead"].exists()
    assert all(files[name].exists() and planted[name].exists() for name in ("young", "live", "remote"))
    assert not planted["landed"].exists() and Path(committed[0]).exists()  # journal gone, data kept
    assert len(read_iceberg(dativo_home, "t2.items")) == 20
    own = [p.name for p in (root / JOURNAL_DIR).iterdir()]
    assert sorted(own) == ["live.json", "remote.json", "young.json"]  # the second run removed its own journal
