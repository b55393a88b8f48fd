"""The job file (`jobs/<tenant>/<job>.yaml`): one source, one target, a contract, retries and logging."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from .base import StrictModel, TagSafeName, check_seconds
from .contract import Contract
from .data_catalog import DataCatalog
from .sources import SourceConfig
from .targets import TargetConfig

# Exit codes of `dativo run`; `retryable_exit_codes` refers to these.
EXIT_SUCCESS, EXIT_PARTIAL, EXIT_PERMANENT, EXIT_TRANSIENT = 0, 1, 2, 3


# A larger factor reaches any sensible max_delay_seconds by the second retry; 1e300 made the float math overflow.
MAX_BACKOFF_MULTIPLIER = 100.0


class SchemaValidationMode(str, Enum):
    STRICT = "strict"
    WARN = "warn"


def retry_delay(initial_delay_seconds: float, backoff_multiplier: float, max_delay_seconds: float,
                retry_number: int) -> float:
    """Seconds to wait before retry `retry_number` (1 = first retry). The one place this curve lives."""
    # multiplier**n overflows a float long before max_retries (backoff_multiplier: 1e300 raised OverflowError
    # at the third retry instead of waiting max_delay_seconds): past the float range the cap applies.
    try:
        delay = initial_delay_seconds * backoff_multiplier ** (retry_number - 1)
    except OverflowError:
        return max_delay_seconds
    return min(delay, max_delay_seconds)


class RetryConfig(StrictModel):
    """Retry policy: delay before retry n (1-based) is min(initial * multiplier**(n-1), max_delay)."""

    max_retries: int = Field(3, ge=0, le=100, validation_alias=AliasChoices("max_retries", "max_attempts"))
    initial_delay_seconds: float = Field(
        5, ge=0, validation_alias=AliasChoices("initial_delay_seconds", "retry_delay_seconds")
    )
    max_delay_seconds: float = Field(300, ge=0)
    backoff_multiplier: float = Field(2.0, ge=1.0, le=MAX_BACKOFF_MULTIPLIER, allow_inf_nan=False)
    retryable_exit_codes: list[int] = Field(default_factory=lambda: [EXIT_TRANSIENT],
                                            description="`dativo run` exit codes that are retried (3 = transient).")
    retryable_error_patterns: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("retryable_error_patterns", "retryable_errors"),
        description="Regexes; an error message matching one is treated as transient.",
    )

    @field_validator("initial_delay_seconds", "max_delay_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        return check_seconds(value)  # .inf would break Airflow's retry delays (timedelta)

    @field_validator("retryable_error_patterns")
    @classmethod
    def _valid_regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RetryConfig:
        if self.max_delay_seconds < self.initial_delay_seconds:
            raise ValueError("max_delay_seconds must be >= initial_delay_seconds")
        return self

    def delay_before_retry(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1 = first retry): `retry_delay`, the one formula."""
        return retry_delay(self.initial_delay_seconds, self.backoff_multiplier, self.max_delay_seconds, retry_number)


class LoggingConfig(StrictModel):
    redaction: bool = Field(True, description="Mask secret values in logs and errors. Keep on.")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class JobConfig(StrictModel):
    """One ingestion job of one tenant."""

    schema_: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference for editors.")
    tenant_id: TagSafeName = Field(description="Tenant owning this job; runs of one tenant are serialized.")
    name: TagSafeName | None = Field(None, description="Job name; defaults to the file name without .yaml.")
    description: str | None = None
    environment: str | None = Field(None, description="Free-form label (dev, prod), shown as a tag.")
    source: SourceConfig
    target: TargetConfig
    contract: Contract | str | None = Field(
        None, validation_alias=AliasChoices("contract", "asset_path"),
        description="ODCS v3-style contract inline, or the path of a contract file (relative to the job file).",
    )
    schema_validation_mode: SchemaValidationMode = SchemaValidationMode.STRICT
    retry_config: RetryConfig = Field(default_factory=RetryConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    data_catalog: DataCatalog | None = Field(
        None, description="Register each landed table in a data catalog (OpenMetadata) after a successful run; a "
        "failed push is a warning, never a failed run.")

    @model_validator(mode="after")
    def _one_location_per_table(self) -> JobConfig:
        location = getattr(self.target, "location", None)
        if location and "{table}" not in location and len(self.source.objects()) > 1:
            raise ValueError(f"target.location {location!r} would hold all {len(self.source.objects())} tables of this "
                             "job; add `{table}` to it (e.g. s3://bucket/prefix/{table})")
        return self

    @model_validator(mode="after")
    def _catalog_table_name_for_one_object(self) -> JobConfig:
        if self.data_catalog and self.data_catalog.table_name and len(self.source.objects()) > 1:
            raise ValueError("data_catalog.table_name names one table, but this job lands "
                             f"{len(self.source.objects())}; remove it (each table keeps its object name)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _accept_dativo_names(cls, data: Any) -> Any:
        """Dativo job files name the source/target kind at top level (`source_connector`, `target_connector`)
        and the target kind as `file_format`; fold them into `type`."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for side in ("source", "target"):
            connector = data.pop(f"{side}_connector", None)
            block = data.get(side)
            if connector is not None and isinstance(block, dict) and "type" not in block:
                data[side] = {"type": connector, **block}
            elif connector is not None and block is None:
                data[side] = {"type": connector}
        target = data.get("target")
        if isinstance(target, dict) and "type" not in target and "file_format" in target:
            target = dict(target)
            target["type"] = target.pop("file_format")
            data["target"] = target
        return data
