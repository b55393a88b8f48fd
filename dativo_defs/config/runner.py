"""The runner file (`configs/runner.yaml`): which jobs run, when, and which orchestrator owns each schedule."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .base import AIRFLOW_TAG_MAX, MAX_DB_INT, SafeName, StrictModel, Timezone, check_seconds
from .cadence import normalize_cron

# Dagster's sensor daemon evaluates sensors on a 5 s loop, so an interval sensor can only tick on multiples of it
# (a 7 s interval ticks every 10 s). Both orchestrators honour the interval rounded up to this granularity.
SENSOR_GRANULARITY_SECONDS = 5


def effective_interval(seconds: int) -> int:
    """The cadence both orchestrators honour for `interval_seconds`: rounded up to Dagster's sensor granularity."""
    return -(-seconds // SENSOR_GRANULARITY_SECONDS) * SENSOR_GRANULARITY_SECONDS


class RunnerMode(str, Enum):
    ORCHESTRATED = "orchestrated"
    ONESHOT = "oneshot"


class OrchestratorType(str, Enum):
    DAGSTER = "dagster"
    AIRFLOW = "airflow"


class Schedule(StrictModel):
    """One scheduled job. Exactly one of `cron` or `interval_seconds`."""

    name: SafeName = Field(
        description="Unique schedule name; becomes the Dagster schedule/sensor name and the Airflow dag_id."
    )
    config: str = Field(description="Job file path, relative to this runner file or absolute.")
    cron: str | None = Field(None, description="5-field cron expression (or @hourly, @daily, ...), evaluated in `timezone`.")
    interval_seconds: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Run every N seconds (sub-minute intervals allowed). Mutually exclusive with `cron`."
    )
    enabled: bool = Field(True, description="Disabled schedules are defined but stopped/paused.")
    timezone: Timezone = Field("UTC", description="IANA timezone for `cron`, e.g. Europe/Berlin.")
    max_concurrent_runs: int = Field(1, ge=1, le=MAX_DB_INT, description="At most this many runs of this schedule at once.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags put on every run (Dagster tags, Airflow DAG tags).")
    orchestrator: OrchestratorType | None = Field(
        None, description="Owner of this schedule, overriding `orchestrator.type` for it."
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return None if value is None else normalize_cron(value)

    @field_validator("tags")
    @classmethod
    def _tag_lengths(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():  # Airflow's DAG tag is "key:value"
            if len(key) + 1 + len(value) > AIRFLOW_TAG_MAX:
                raise ValueError(f"tag {key[:20]!r}: 'key:value' is {len(key) + 1 + len(value)} characters; Airflow "
                                 f"DAG tags hold at most {AIRFLOW_TAG_MAX}")
        return tags

    @field_validator("interval_seconds")
    @classmethod
    def _representable(cls, value: int | None) -> int | None:
        return check_seconds(value)  # Airflow's DeltaTriggerTimetable needs a timedelta

    @property
    def effective_interval_seconds(self) -> int | None:
        return None if self.interval_seconds is None else effective_interval(self.interval_seconds)

    def cadence_warning(self) -> str | None:
        """Set when the configured interval is rounded (validate prints it; explain shows the effective cadence)."""
        effective = self.effective_interval_seconds
        if effective is None or effective == self.interval_seconds:
            return None
        return (f"interval_seconds {self.interval_seconds} is not a multiple of Dagster's {SENSOR_GRANULARITY_SECONDS} s "
                f"sensor loop: both orchestrators run it every {effective} s (set a multiple of "
                f"{SENSOR_GRANULARITY_SECONDS} to silence this)")

    @model_validator(mode="after")
    def _cron_xor_interval(self) -> Schedule:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("set exactly one of `cron` or `interval_seconds`")
        return self


class Orchestrator(StrictModel):
    type: OrchestratorType = Field(OrchestratorType.DAGSTER, description="Which orchestrator owns the schedules by default.")
    concurrency_per_tenant: int = Field(
        1, ge=1, le=MAX_DB_INT, description="At most this many runs of one tenant at once, on either orchestrator."
    )
    schedules: list[Schedule] = Field(default_factory=list)

    @field_validator("schedules")
    @classmethod
    def _unique_names(cls, schedules: list[Schedule]) -> list[Schedule]:
        # Each error is located at the duplicate entry (not the whole list), so a lenient load sets aside
        # only that entry and the first schedule of that name still loads.
        first: dict[str, int] = {}
        errors: list[InitErrorDetails] = []
        for index, schedule in enumerate(schedules):
            if schedule.name in first:
                error = PydanticCustomError("value_error", "duplicate schedule name {name} (schedules[{first}] has it "
                                            "too); names must be unique",
                                            {"name": repr(schedule.name), "first": first[schedule.name]})
                errors.append({"type": error, "loc": (index, "name"), "input": schedule.name})
            first.setdefault(schedule.name, index)
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return schedules


class RunnerConfig(StrictModel):
    """Body of the runner file."""

    mode: RunnerMode = Field(RunnerMode.ORCHESTRATED, description="orchestrated: schedules run; oneshot: run each job once.")
    orchestrator: Orchestrator = Field(default_factory=Orchestrator)
    jobs: list[str] = Field(
        default_factory=list, description="Job files to define for manual runs besides the scheduled ones: paths or "
        "glob patterns relative to this file, e.g. ../jobs/*/*.yaml. They become Dagster assets and asset jobs and "
        "manual-trigger Airflow DAGs; a job a schedule references is defined once.")

    def owner_of(self, schedule: Schedule) -> OrchestratorType:
        return schedule.orchestrator or self.orchestrator.type


class RunnerFile(StrictModel):
    """The documented form: everything under a top-level `runner:` key."""

    schema_: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference for editors.")
    runner: RunnerConfig

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "runner" not in data and ({"mode", "orchestrator"} & data.keys()):
            return {"runner": data}
        return data
