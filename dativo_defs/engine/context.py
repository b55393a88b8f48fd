"""What a caller hands the engine (RunContext) and what it gets back (RunResult)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

CALLER_RUN_IDS_ENV = "DATIVO_CALLER_RUN_IDS"  # JSON {"caller": ..., <id name>: <id>} for `dativo run` children


@dataclass(frozen=True)
class RunContext:
    """Who runs this job: `caller` (cli, dagster, airflow) and its run ids, which every log line carries."""

    caller: str = "cli"
    run_ids: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class RunStatus(str, Enum):
    SUCCESS = "success"
    PARTIAL = "partial"  # landed, with warn-mode contract violations
    FAILED = "failed"


@dataclass
class ObjectResult:
    """One output table of a run."""

    object: str
    table: str
    rows_read: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    files_written: int = 0
    snapshot_id: int | None = None
    cursor_before: Any = None
    cursor_after: Any = None
    violations: dict[str, int] = field(default_factory=dict)
    violation_samples: list[dict[str, Any]] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RunResult:
    """Everything an orchestrator displays about a run. Contains no secrets."""

    tenant_id: str
    job: str
    run_id: str
    status: RunStatus
    source_type: str
    target_type: str
    objects: list[ObjectResult] = field(default_factory=list)
    duration_seconds: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    failure_exit_code: int | None = None  # set for upstream-format jobs: their one exit code for any failure

    @property
    def rows_read(self) -> int:
        return sum(o.rows_read for o in self.objects)

    @property
    def rows_written(self) -> int:
        return sum(o.rows_written for o in self.objects)

    @property
    def bytes_written(self) -> int:
        return sum(o.bytes_written for o in self.objects)

    @property
    def exit_code(self) -> int:
        from ..config.job import EXIT_PARTIAL, EXIT_PERMANENT, EXIT_SUCCESS, EXIT_TRANSIENT

        if self.status is RunStatus.SUCCESS:
            return EXIT_SUCCESS
        if self.status is RunStatus.PARTIAL:
            return EXIT_PARTIAL
        if self.failure_exit_code is not None:
            return self.failure_exit_code
        return EXIT_TRANSIENT if self.error_kind == "transient" else EXIT_PERMANENT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data.update(rows_read=self.rows_read, rows_written=self.rows_written, bytes_written=self.bytes_written,
                    exit_code=self.exit_code)
        return data
