"""Upstream asset definitions (both shapes) as dativo contracts, and their governance as table properties.

Shapes: the older wrapper (`asset: {name, schema, governance, compliance, finops, target}`) and flat ODCS v3
(`apiVersion`, `kind: DataContract`, `schema: [...]`, `team`, `compliance`, ...). Upstream column types map
onto dativo's; a type with no counterpart is refused with the column named.
"""

from __future__ import annotations

from typing import Any

# upstream type -> dativo ColumnType value
TYPE_MAP = {
    "string": "string", "str": "string", "text": "string", "varchar": "string",
    "integer": "integer", "int": "integer", "bigint": "long", "long": "long", "smallint": "integer",
    "float": "float", "double": "double", "number": "number", "decimal": "decimal", "numeric": "decimal",
    "boolean": "boolean", "bool": "boolean", "date": "date", "timestamp": "timestamp", "datetime": "datetime",
    "binary": "binary", "bytes": "binary",
}
# Contract fields dativo keeps; the rest of an asset is governance (table properties) or upstream-only.
_CONTRACT_KEYS = ("$schema", "apiVersion", "kind", "id", "name", "version", "status", "domain", "dataProduct", "tenant",
                  "source_type", "object", "description", "tags", "team", "compliance", "data_quality", "target",
                  "change_management", "finops")


class AssetError(ValueError):
    """An asset that cannot be expressed as a dativo contract; `field_path` locates it in the asset file."""

    def __init__(self, message: str, field_path: tuple[str | int, ...]):
        self.field_path = field_path
        super().__init__(message)


def body(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The asset's fields and their path prefix in the file (`asset:` wrapper or flat ODCS)."""
    wrapped = data.get("asset")
    if isinstance(wrapped, dict):
        return wrapped, ("asset",)
    return data, ()


def contract_dict(data: dict[str, Any]) -> dict[str, Any]:
    """The asset as the input of dativo's Contract model."""
    asset, prefix = body(data)
    columns = []
    schema = asset.get("schema") or []
    if not isinstance(schema, list):
        raise AssetError("`schema` must be a list of columns", prefix + ("schema",))
    for index, column in enumerate(schema):
        if not isinstance(column, dict):
            raise AssetError("each schema entry must be a mapping with `name` and `type`", prefix + ("schema", index))
        raw = column.get("type", column.get("logicalType", "string"))
        mapped = TYPE_MAP.get(str(raw).lower())
        if mapped is None:
            raise AssetError(f"upstream column type {raw!r} of column {column.get('name')!r} has no dativo counterpart "
                             f"(supported: {', '.join(sorted(TYPE_MAP))}); nested `array`/`object` columns are not "
                             "supported: store them as a JSON `string`", prefix + ("schema", index, "type"))
        entry = {"name": column.get("name"), "type": mapped, "required": bool(column.get("required", False))}
        for key in ("description", "classification", "unique"):
            if column.get(key) is not None:
                entry[key] = column[key]
        if column.get("primaryKey") or column.get("primary_key"):
            entry["primaryKey"] = True
        columns.append(entry)
    out = {key: asset[key] for key in _CONTRACT_KEYS if key in asset}
    out["schema"] = columns
    governance = _dict(asset.get("governance"))
    if governance.get("owner") and "team" not in out:
        out["team"] = {"owner": governance["owner"]}
    if governance.get("tags") and not out.get("tags"):
        out["tags"] = governance["tags"]  # a non-list is reported by the Contract model
    if governance and "compliance" not in out:
        kept = {k: governance[k] for k in ("classification", "retention_days") if k in governance}
        if kept:
            out["compliance"] = kept
    if out.get("version") is not None:
        out["version"] = str(out["version"])
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _csv(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def table_properties(data: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """Upstream's namespaced Iceberg table properties: classification.default, classification.fields.<column>,
    governance.*, finops.*; the job's classification_overrides / governance_overrides / finops win."""
    asset, _ = body(data)
    props: dict[str, str] = {}
    compliance = _dict(asset.get("compliance"))
    governance = _dict(asset.get("governance"))
    classes = compliance.get("classification") or governance.get("classification") or []
    if isinstance(classes, list) and classes:
        props["classification.default"] = str(classes[0]).lower()
    elif isinstance(classes, str) and classes:
        props["classification.default"] = classes.lower()
    for column in _list(asset.get("schema")):
        if isinstance(column, dict) and column.get("classification"):
            props[f"classification.fields.{column['name']}"] = str(column["classification"]).lower()
    team = _dict(asset.get("team"))
    owner = governance.get("owner") or team.get("owner")
    gov = {"owner": owner, "tags": governance.get("tags") or asset.get("tags"),
           "retention_days": compliance.get("retention_days", governance.get("retention_days")),
           "regulations": compliance.get("regulations")}
    for key, value in gov.items():
        if value not in (None, [], ""):
            props[f"governance.{key}"] = _csv(value)
    finops = _dict(asset.get("finops"))
    finops = {**finops, **_dict(job.get("finops"))}
    for key, value in finops.items():
        if value not in (None, [], ""):
            props[f"finops.{key}"] = _csv(value)
    overrides = _dict(job.get("classification_overrides"))
    for key, value in overrides.items():
        props["classification.default" if key == "default" else f"classification.fields.{key}"] = str(value).lower()
    governance_overrides = job.get("governance_overrides")
    for key, value in (governance_overrides.items() if isinstance(governance_overrides, dict) else ()):
        props[f"governance.{key}"] = _csv(value)
    return props
