"""A compiled, JSON view of dativo_defs' Dagster definitions: what the Airflow side needs, nothing more.

Airflow re-parses the dags folder every 30 s with a 30 s import timeout, and building the Dagster definitions
takes tens of seconds at thousands of jobs, so a parse never builds them: `dativo airflow compile` (deploy time,
or a background compile a parse starts) writes the manifest, and a parse only reads it (parse.py).

The manifest carries a `Stamp` of everything it was compiled from — the runner, job and contract files, an
upstream-format job's connector recipes and asset file (content hashes; a referenced file that does not exist
yet counts as missing, so creating it is a change), the files the runner's `jobs` patterns match, the
environment variables those files reference (a digest, never the values), and dativo's own code — so a parse
can tell whether it is current and name what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dativo_defs.config.bounded import FileTooLarge, NotRegularFile, read_bounded
from dativo_defs.config.paths import RUNNER_CONFIG_ENV, builtin_variables, runner_config_path
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
class Stamp:
    """What a manifest was compiled from, input by input, so a parse can say which one changed."""

    files: dict[str, str]  # path -> sha256 of its content (a missing file hashes "<missing>")
    patterns: dict[str, list[str]]  # absolute `runner.jobs` glob -> the files it matched
    variables: list[str]  # the ${VAR} names the files reference; only a digest of their values is kept
    variables_digest: str
    code_digest: str


@dataclass
class Manifest:
    stamp: Stamp
    dags: list[DagSpec]
    issues: list[str]
    compiled_at: str = ""  # ISO 8601, UTC
    version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"manifest format {data.get('version')!r}, this dativo reads {MANIFEST_VERSION}")
        return cls(**{**data, "stamp": Stamp(**data["stamp"]), "dags": [DagSpec.from_dict(d) for d in data["dags"]]})


MISSING = hashlib.sha256(b"<missing>").hexdigest()


def take_stamp(files: Iterable[str], patterns: Sequence[str], variables: Sequence[str] | None = None) -> Stamp:
    """Stamp the inputs as they are now. Cheap enough for every parse (small files, a few stats, one bounded,
    symlink-loop safe directory walk per job pattern). `variables` None: collect the names the files reference."""
    contents = {path: _content(Path(path)) for path in sorted(set(files))}
    if variables is None:
        names = {"DATIVO_HOME", "DATIVO_RUNNER_CONFIG", APP_ROOT_ENV}  # upstream /app paths map under it
        for data in contents.values():
            names.update(_VAR.findall(data.decode(errors="replace")))
        variables = sorted(names)
    return Stamp(files={path: hashlib.sha256(data).hexdigest() for path, data in contents.items()},
                 patterns={p: [str(f) for f in bounded_glob(p).files] for p in patterns},
                 variables=list(variables), variables_digest=_variables_digest(variables), code_digest=_code_digest())


def changes(stamp: Stamp) -> list[str]:
    """What differs between the inputs now and `stamp`, one line each; [] when the manifest is current."""
    now = take_stamp(stamp.files, list(stamp.patterns), stamp.variables)
    found = []
    for path, digest in stamp.files.items():
        if now.files[path] != digest:
            kind = "created" if digest == MISSING else "removed" if now.files[path] == MISSING else "changed"
            found.append(f"{kind}: {path}")
    for pattern, matched in stamp.patterns.items():
        before, after = set(matched), set(now.patterns[pattern])
        shown = os.path.normpath(pattern)
        found += [f"new match of {shown}: {os.path.normpath(p)}" for p in sorted(after - before)]
        found += [f"no longer matches {shown}: {os.path.normpath(p)}" for p in sorted(before - after)]
    if now.variables_digest != stamp.variables_digest:
        found.append(f"environment: one of {', '.join(stamp.variables)} changed")
    if now.code_digest != stamp.code_digest:
        found.append("dativo's code changed (airflow_bridge, dativo_defs)")
    return found


def _variables_digest(names: Iterable[str]) -> str:
    """Over the values the loader would use: the environment, dativo's built-in defaults for the unset ones, and
    the runner file resolved (the CLI exports it; Airflow's parse may find it by default)."""
    values = {**builtin_variables(), **os.environ, RUNNER_CONFIG_ENV: str(runner_config_path())}
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}={values.get(name, '<unset>')}\0".encode())
    return digest.hexdigest()


def _code_digest() -> str:
    digest = hashlib.sha256(f"v{MANIFEST_VERSION}".encode())
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
