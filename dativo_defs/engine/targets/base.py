"""The target seam: read the state committed with the last run, and write one stream's batches together
with its new state in a single atomic commit (all or nothing)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from ..sources.base import State, Stream

STATE_JOB_KEY = "dativo.job"
STATE_KEY = "dativo.state"
RUN_ID_KEY = "dativo.run_id"


@dataclass
class CommitInfo:
    """What one commit wrote."""

    table: str
    rows: int = 0
    bytes: int = 0
    files: int = 0
    snapshot_id: int | None = None
    orphans_removed: int = 0  # files of earlier runs that died before committing, deleted by this write


@dataclass(frozen=True)
class WriteRequest:
    """One stream's data for one commit. `final_state` is called once the batches are exhausted: the state
    then describes exactly the data being committed."""

    stream: Stream
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    final_state: Callable[[], State | None]
    run_id: str


class Target(ABC):
    types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        self.config = config
        self.tenant_id = tenant_id
        self.job_name = job_name
        self.home = home
        self.base_dir = base_dir

    @property
    def job_key(self) -> str:
        return f"{self.tenant_id}/{self.job_name}"

    @abstractmethod
    def table_name(self, stream: Stream) -> str:
        """Fully qualified name of the stream's table or dataset, for display."""

    @abstractmethod
    def read_state(self, stream: Stream) -> State | None:
        """The state committed with this job's last successful run for `stream` (None before the first)."""

    @abstractmethod
    def write(self, request: WriteRequest) -> CommitInfo:
        """Write all batches and commit them with `request.final_state()` atomically, or commit nothing."""

    def close(self) -> None:  # noqa: B027 - an optional hook: most targets hold nothing to release
        """Release resources."""
