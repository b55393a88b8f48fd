"""A compiled, JSON view of dativo_defs' Dagster definitions: what the Airflow side needs, nothing more.

Airflow re-parses the dags folder every 30 s. Building the Dagster definitions means importing dagster and
validating every YAML file; the manifest lets a parse skip that. It is rebuilt automatically — never used
stale — whenever anything it was built from changes: the runner, job and contract files, and an upstream-format
job's connector recipes and asset file (content hashes; a referenced file that does not exist yet counts as
missing, so creating it rebuilds),
the files the runner's `jobs` patterns match, the environment variables those files reference, and dativo's
own code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dativo_defs.config.bounded import FileTooLarge, NotRegularFile, read_bounded
from dativo_defs.config.upstream.paths import APP_ROOT_ENV
from dativo_defs.config.walk import bounded_glob
from dativo_defs.config.yaml_loader import MAX_FILE_BYTES

MANIFEST_VERSION = 4
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_CODE_DIRS = [Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "dativo_defs"]


@dataclass
class TaskSpec:
    """One Airflow task = one Dagster op (a job's multi-asset)."""

    task_id: str
    job_file: str
    tenant_id: str
    job: str
    source: str
    asset_keys: list[list[str]]
    pool: str
    pool_slots: int
    retries: int
    retry_delay_seconds: float
    backoff_multiplier: float
    max_retry_delay_seconds: float
    retryable_exit_codes: list[int]
    upstream: list[str] = field(default_factory=list)


@dataclass
class DagSpec:
    """One Airflow DAG = one Dagster schedule or sensor (or an unscheduled asset job: manual trigger)."""

    dag_id: str
    kind: str  # "cron" | "interval" | "manual" | "invalid" (a broken runner entry's placeholder: no tasks)
    description: str
    paused: bool
    paused_reason: str  # a dativo_defs.contract.PausedReason value, "" when it runs on Airflow
    max_active_runs: int
    tags: dict[str, str]
    tasks: list[TaskSpec]
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None  # effective cadence (rounded to Dagster's sensor granularity)
    configured_interval_seconds: int | None = None
    owner: str = "dagster"
    error: str = ""  # kind "invalid": the entry's problems (file:line: field: message) and the fix hint, as text
    headline: str = ""  # kind "invalid": which entry did not load
    issues: list[str] = field(default_factory=list)  # kind "invalid": one file:line: field: message per problem
    hint: str = ""  # kind "invalid": how to fix it

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DagSpec:
        return cls(**{**data, "tasks": [TaskSpec(**t) for t in data["tasks"]]})


@dataclass
class Manifest:
    fingerprint: str
    inputs: list[str]
    variables: list[str]
    dags: list[DagSpec]
    issues: list[str]
    job_patterns: list[str] = field(default_factory=list)  # absolute `runner.jobs` globs: a new match rebuilds
    version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(**{**data, "dags": [DagSpec.from_dict(d) for d in data["dags"]]})


def fingerprint(inputs: list[str], variables: list[str], job_patterns: Sequence[str] = ()) -> str:
    """Hash of everything a manifest depends on. Cheap enough for every parse (small files, a few stats, one
    directory scan per job pattern)."""
    digest = hashlib.sha256(f"v{MANIFEST_VERSION}".encode())
    for pattern in job_patterns:  # bounded and symlink-loop safe, like the loader's expansion
        digest.update(f"{pattern}:{bounded_glob(pattern).files}".encode())
    for path in inputs:  # missing ones too: creating a missing job or contract file rebuilds the manifest
        digest.update(path.encode())
        digest.update(_content(Path(path)))
    for name in variables:
        digest.update(f"{name}={os.environ.get(name, '<unset>')}".encode())
    for directory in _CODE_DIRS:
        for source in sorted(directory.rglob("*.py")):
            stat = source.stat()
            digest.update(f"{source}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    return digest.hexdigest()


def _content(path: Path) -> bytes:
    """A file's bytes for the fingerprint, never blocking or unbounded: a FIFO or device (which the loader
    refuses anyway) or an oversized file counts by its kind and size, a missing one as missing."""
    try:
        return read_bounded(path, MAX_FILE_BYTES)
    except (NotRegularFile, FileTooLarge) as exc:  # refused by the loader too: its kind (and size) is the content
        return f"<{type(exc).__name__} {exc}>".encode()
    except (OSError, ValueError):
        return b"<missing>"


def referenced_variables(inputs: list[str]) -> list[str]:
    names: set[str] = {"DATIVO_HOME", "DATIVO_RUNNER_CONFIG", APP_ROOT_ENV}  # upstream /app paths map under it
    for path in inputs:
        names.update(_VAR.findall(_content(Path(path)).decode(errors="replace")))
    return sorted(names)
