"""Airflow never schedules a task whose pool does not exist, so every tenant pool must exist with
`concurrency_per_tenant` slots before the DAGs run. `dativo airflow sync-pools` makes it so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .manifest import Manifest


def required_pools(manifest: Manifest) -> dict[str, int]:
    pools: dict[str, int] = {}
    for dag in manifest.dags:
        for task in dag.tasks:
            pools[task.pool] = max(pools.get(task.pool, 0), task.pool_slots)
    return dict(sorted(pools.items()))


def description(pool: str) -> str:
    return f"dativo tenant pool ({pool.removeprefix('dativo_tenant_')}): runs of one tenant at once"


def sync_with_cli(pools: dict[str, int]) -> dict[str, str]:
    """`airflow pools set` against the metadata DB of this machine's AIRFLOW_HOME."""
    airflow = str(Path(sys.executable).parent / "airflow")
    outcome = {}
    for name, slots in pools.items():
        result = subprocess.run([airflow, "pools", "set", name, str(slots), description(name)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"airflow pools set {name} failed: {result.stderr.strip()[-400:]}")
        outcome[name] = "set"
    return outcome


def sync_with_api(pools: dict[str, int], api) -> dict[str, str]:
    return {name: api.upsert_pool(name, slots, description(name)) for name, slots in pools.items()}


def missing_pools(pools: dict[str, int], api) -> list[str]:
    return [name for name in pools if api.get(f"/pools/{name}") is None]
