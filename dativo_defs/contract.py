"""The typed contract across the Dagster -> bridge seam.

Every asset op and every schedule/sensor of dativo_defs carries one frozen model as ONE JSON metadata value
(key `dativo/contract`), in the spirit of dagster-sling keeping its whole config as one metadata value. The
Airflow bridge and `dativo explain` read it back through `op_contract` / `trigger_contract` below and nowhere
else. Human-readable text (descriptions, paused reasons as sentences) is derived from these fields for display
only; no code decides anything by reading English.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .config.errors import ConfigIssue
from .config.job import RetryConfig, retry_delay
from .config.runner import OrchestratorType

CONTRACT_KEY = "dativo/contract"
CONTRACT_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PausedReason(str, Enum):
    """Why an orchestrator must not fire a trigger (None on the side that runs it)."""

    DISABLED = "disabled"  # enabled: false in the runner file: paused everywhere
    OWNED_ELSEWHERE = "owned_elsewhere"  # the other orchestrator owns it


class RetryCurve(_Frozen):
    """Retry n (1-based) waits min(initial * multiplier**(n-1), max_delay) seconds, exactly (no jitter)."""

    max_retries: int
    initial_delay_seconds: float
    backoff_multiplier: float
    max_delay_seconds: float
    retryable_exit_codes: tuple[int, ...]

    @classmethod
    def from_config(cls, retry: RetryConfig) -> RetryCurve:
        return cls(max_retries=retry.max_retries, initial_delay_seconds=retry.initial_delay_seconds,
                   backoff_multiplier=retry.backoff_multiplier, max_delay_seconds=retry.max_delay_seconds,
                   retryable_exit_codes=tuple(retry.retryable_exit_codes))

    def wait_before_retry(self, retry_number: int) -> float:
        """Seconds before retry `retry_number` (1 = first retry): `retry_delay`, the one formula (no model built:
        pydantic's model_construct costs ~0.25 ms, paid per job at every code-location load)."""
        return retry_delay(self.initial_delay_seconds, self.backoff_multiplier, self.max_delay_seconds, retry_number)

    def waits(self) -> list[float]:
        return [self.wait_before_retry(n) for n in range(1, self.max_retries + 1)]


class OpContract(_Frozen):
    """One asset op (= one dativo job = one Airflow task)."""

    version: Literal[1] = 1  # CONTRACT_VERSION
    op_name: str
    tenant_id: str
    job: str
    source: str
    job_file: str
    asset_keys: tuple[tuple[str, ...], ...]
    pool: str
    pool_slots: int
    retry: RetryCurve
    tags: dict[str, str]


class TriggerContract(_Frozen):
    """One schedule (cron) or sensor (interval)."""

    version: Literal[1] = 1  # CONTRACT_VERSION
    name: str
    kind: Literal["cron", "interval"]
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None  # as configured
    effective_interval_seconds: int | None = None  # what both orchestrators honour (Dagster's sensor granularity)
    owner: OrchestratorType
    enabled: bool
    max_concurrent_runs: int
    tags: dict[str, str]
    job_file: str
    description: str  # display only

    def paused_reason(self, orchestrator: OrchestratorType) -> PausedReason | None:
        """Why `orchestrator` must not fire this trigger, or None when it runs there (at most one side)."""
        if not self.enabled:  # first: a disabled trigger stays paused on every orchestrator
            return PausedReason.DISABLED
        if self.owner is not orchestrator:
            return PausedReason.OWNED_ELSEWHERE
        return None

    def runs_on(self, orchestrator: OrchestratorType) -> bool:
        return self.paused_reason(orchestrator) is None


class IssueRef(_Frozen):
    """One config problem (dativo_defs.config.errors.ConfigIssue) as it crosses the seam."""

    file: str
    message: str
    field_path: str = ""
    line: int | None = None

    def __str__(self) -> str:  # the same file:line: field: message line `dativo validate` prints
        return str(ConfigIssue(self.file, self.message, self.field_path, self.line))


class InvalidEntryContract(_Frozen):
    """A runner entry that did not load (dativo_defs.config.loader.BrokenEntry): shown in Dagster as a stopped
    placeholder sensor and in Airflow as a paused placeholder DAG, both named `name`, neither running any work."""

    version: Literal[1] = 1  # CONTRACT_VERSION
    kind: Literal["invalid"] = "invalid"
    name: str  # the placeholder's name: the sensor's, the DAG's dag_id
    entry: str  # the entry as the runner names it (schedule name, job file stem, runner file stem)
    entry_kind: Literal["schedule", "job", "runner"]
    issues: tuple[IssueRef, ...]
    hint: str

    @property
    def headline(self) -> str:
        what = {"schedule": "schedule", "job": "job file", "runner": "runner file"}[self.entry_kind]
        return f"INVALID {what} {self.entry!r}: not loaded ({len(self.issues)} problem(s))"

    @property
    def summary(self) -> str:
        """One line: the headline and every issue (an Airflow DAG description)."""
        return f"{self.headline}: " + "; ".join(str(issue) for issue in self.issues)

    def error_text(self) -> str:
        """Headline, one file:line: field: message line per issue, then the fix hint (display only)."""
        return "\n".join([self.headline, *(str(issue) for issue in self.issues), f"Fix: {self.hint}"])


def explain_reason(reason: PausedReason | None, trigger: TriggerContract) -> str:
    """The human sentence for a paused reason (display only; never parsed)."""
    if reason is PausedReason.DISABLED:
        return "disabled in the runner file (enabled: false)"
    if reason is PausedReason.OWNED_ELSEWHERE:
        return f"owned by {trigger.owner.value}: defined here but stopped, so it never runs twice"
    return ""


def as_metadata(model: _Frozen) -> dict[str, Any]:
    """The one metadata entry carrying `model` (a Dagster JSON metadata value)."""
    from dagster import MetadataValue

    return {CONTRACT_KEY: MetadataValue.json(model.model_dump(mode="json"))}


def _payload(metadata: Any, owner: str) -> Any:
    value = (metadata or {}).get(CONTRACT_KEY)
    if value is None:
        raise KeyError(f"{owner} has no {CONTRACT_KEY} metadata: not built by dativo_defs")
    return getattr(value, "data", value)


def op_contract(assets_def: Any) -> OpContract:
    """The contract of a multi-asset (every spec of the op carries the same one)."""
    spec = next(iter(assets_def.specs))
    return OpContract.model_validate(_payload(spec.metadata, assets_def.node_def.name))


def trigger_contract(trigger: Any) -> TriggerContract:
    """The contract of a ScheduleDefinition or SensorDefinition (not a placeholder: see invalid_contract)."""
    return TriggerContract.model_validate(_payload(trigger.metadata, trigger.name))


def invalid_contract(trigger: Any) -> InvalidEntryContract | None:
    """The contract of a placeholder sensor for a broken runner entry; None for a real schedule or sensor."""
    payload = _payload(trigger.metadata, trigger.name)
    if not (isinstance(payload, dict) and payload.get("kind") == "invalid"):
        return None
    return InvalidEntryContract.model_validate(payload)
