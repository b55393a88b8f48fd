"""JSON Schemas of the runner, job and contract files, generated from the models and committed under
configs/schemas/ so editors can complete fields (`# yaml-language-server: $schema=...`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .contract import Contract
from .job import JobConfig
from .runner import RunnerFile
from .yaml_loader import FieldPath

SCHEMAS: dict[str, type[BaseModel]] = {
    "runner.schema.json": RunnerFile,
    "job.schema.json": JobConfig,
    "contract.schema.json": Contract,
}
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "configs" / "schemas"


@cache
def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(model: type[BaseModel]) -> str:
    return json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, model in SCHEMAS.items():
        path = directory / file_name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """File names whose committed content differs from what the models generate now."""
    return [name for name, model in SCHEMAS.items()
            if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != render(model)]


def fields_at(model: type[BaseModel], path: FieldPath, data: Any) -> list[str]:
    """Property names allowed at `path` of a document `data` validated by `model` (for hints)."""
    root = json_schema(model)
    node: Any = root
    value: Any = data
    if model is RunnerFile and isinstance(data, dict) and "runner" not in data:
        node, value = _resolve(root, root["properties"]["runner"], value), value
    for part in path:
        node = _pick(root, _resolve(root, node, value), value)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or {}
        value = _child(value, part)
    node = _pick(root, _resolve(root, node, value), value)
    return sorted(node.get("properties", {}))


def _child(value: Any, part: str | int) -> Any:
    """`value[part]` when `value` is a mapping or list that has it, else None."""
    if isinstance(value, dict):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and part < len(value):
        return value[part]
    return None


def _resolve(root: dict[str, Any], node: Any, value: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = root["$defs"][node["$ref"].split("/")[-1]]
    return node


def _pick(root: dict[str, Any], node: Any, value: Any) -> dict[str, Any]:
    """Choose the union member matching the document (by its `type` when discriminated)."""
    if not isinstance(node, dict):
        return {}
    options = node.get("oneOf") or node.get("anyOf")
    if not options:
        return node
    members = [_resolve(root, option, value) for option in options]
    members = [m for m in members if isinstance(m, dict) and "properties" in m]
    if isinstance(value, dict) and "type" in value:
        for member in members:
            type_schema = member["properties"].get("type", {})
            allowed = type_schema.get("enum") or ([type_schema["const"]] if "const" in type_schema else [])
            if value["type"] in allowed:
                return member
    return members[0] if members else {}
