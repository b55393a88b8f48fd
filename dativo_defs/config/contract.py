"""Data contracts: an ODCS v3-style column schema, inline in the job or in its own file.

Two spellings are accepted: Dativo's flat `schema: [{name, type, required}]` and ODCS v3's
`schema: [{name: <object>, properties: [{name, logicalType, required, primaryKey}]}]`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from .base import StrictModel


class ColumnType(str, Enum):
    STRING = "string"
    INTEGER = "integer"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    NUMBER = "number"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    DATETIME = "datetime"
    BINARY = "binary"


class Column(StrictModel):
    name: str = Field(description="Column name as it appears in the source.")
    type: ColumnType = Field(description="Logical type.")
    required: bool = Field(False, description="Null values violate the contract.")
    primary_key: bool = Field(False, alias="primaryKey", description="Part of the primary key (used by merge).")
    classification: str | None = Field(None, description="e.g. PII, confidential, public.")
    description: str | None = None
    unique: bool = False

    @model_validator(mode="before")
    @classmethod
    def _odcs_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data:
            for key in ("logicalType", "physicalType"):
                if key in data:
                    data = {**data, "type": data[key]}
                    data.pop(key)
                    break
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            data = {**data, "type": data["type"].lower()}
        return data


class Team(StrictModel):
    owner: str | None = None
    roles: list[dict[str, str]] = Field(default_factory=list)


class Contract(StrictModel):
    """The columns a job's data must have; governance metadata is kept for display."""

    schema_ref: str | None = Field(None, alias="$schema")
    api_version: str | None = Field(None, alias="apiVersion")
    kind: str | None = None
    id: str | None = None
    name: str | None = None
    version: str | None = None
    status: str | None = None
    domain: str | None = None
    data_product: str | None = Field(None, alias="dataProduct")
    tenant: str | None = None
    source_type: str | None = None
    object: str | None = None
    description: str | dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    team: Team | None = None
    owners: list[str] = Field(default_factory=list, description="Owners shown in the orchestrators (emails or team:name).")
    columns: list[Column] = Field(alias="schema", min_length=1, description="The column list (ODCS `schema`).")
    compliance: dict[str, Any] | None = None
    data_quality: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    change_management: dict[str, Any] | None = None
    finops: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_odcs_objects(cls, data: Any) -> Any:
        schema = data.get("schema") if isinstance(data, dict) else None
        if isinstance(schema, list) and schema and all(isinstance(o, dict) and "properties" in o for o in schema):
            if len(schema) != 1:
                raise ValueError("a contract describes one object: `schema` may list only one entry with `properties`")
            data = {**data, "schema": schema[0]["properties"]}
        return data

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def all_owners(self) -> list[str]:
        return self.owners or ([self.team.owner] if self.team and self.team.owner else [])
