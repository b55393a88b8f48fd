"""Register landed tables in OpenMetadata (a job's `data_catalog:` block), over its REST API with plain HTTP.

Runs after the run's commits. Each table becomes `<service>.<database>.<schema>.<table>` (database: the
contract's domain, else the tenant; schema: its dataProduct, else `default`, as upstream Dativo); every call is a
create-or-update PUT, so a push repeated on every run converges:

  PUT /v1/services/databaseServices   {"name": service, "serviceType": "CustomDatabase", ...}
  PUT /v1/databases                   {"name": database, "service": service}
  PUT /v1/databaseSchemas             {"name": schema, "database": "service.database"}
  GET /v1/users/name/<owner>          (push_metadata) each contract owner, as upstream looks them up
  GET /v1/tags/name/<tag>             (push_metadata) each of upstream's tags (below): unknown ones are left out
  PUT /v1/tables                      {"name", "databaseSchema", "tableType": "Regular", "columns": [...],
                                       "description", "tags", "owners"}

The metadata is upstream's: description "Purpose: ...\n\nUsage: ...\n\nLimitations: ...", owners the team owner
and the team roles' emails, tags the contract's tags plus `domain:<d>`, `data-product:<p>`, `source-type:<t>`,
`classification:<c>` (compliance), `cost-center:<c>` and the finops business tags.

A failure of any call is one `data_catalog_push_failed` warning event naming the call and the reason; the run
keeps its status and its committed data (upstream Dativo logs the same failure as a warning and does not fail
the job). The token is sent only as the Authorization header and registered for redaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..config.contract import Column, ColumnType, Contract
from ..config.data_catalog import OpenMetadataPush
from .context import ObjectResult
from .events import EventLog

# dativo column types -> OpenMetadata's column dataType
OM_TYPES = {ColumnType.STRING: "STRING", ColumnType.INTEGER: "INT", ColumnType.LONG: "BIGINT",
            ColumnType.FLOAT: "FLOAT", ColumnType.DOUBLE: "DOUBLE", ColumnType.NUMBER: "DOUBLE",
            ColumnType.DECIMAL: "DECIMAL", ColumnType.BOOLEAN: "BOOLEAN", ColumnType.DATE: "DATE",
            ColumnType.TIMESTAMP: "TIMESTAMP", ColumnType.DATETIME: "TIMESTAMP", ColumnType.BINARY: "BINARY"}
# landed Arrow types (columns the contract does not list, e.g. upstream's ingest_date) by prefix
ARROW_TYPES = (("int64", "BIGINT"), ("int", "INT"), ("uint", "BIGINT"), ("double", "DOUBLE"), ("float", "FLOAT"),
               ("bool", "BOOLEAN"), ("date", "DATE"), ("timestamp", "TIMESTAMP"), ("decimal", "DECIMAL"),
               ("binary", "BINARY"), ("large_binary", "BINARY"))


class PushFailed(Exception):
    """One catalog call failed; the message names the call and the reason."""


class OpenMetadataClient:
    def __init__(self, cfg: OpenMetadataPush, token: str):
        import requests

        self.cfg = cfg
        self.base = cfg.api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        import requests

        try:
            response = self.session.request(method, self.base + path, json=body, timeout=self.cfg.timeout_seconds)
        except requests.RequestException as exc:
            raise PushFailed(f"{method} {path}: {type(exc).__name__}: cannot reach {self.base}") from None
        if missing_ok and response.status_code == 404:
            return None
        if not 200 <= response.status_code < 300:
            detail = response.text[:200].replace("\n", " ")
            raise PushFailed(f"{method} {path} answered {response.status_code}: {detail}")
        return response.json() if response.content else {}

    def close(self) -> None:
        self.session.close()


def push_tables(cfg: OpenMetadataPush, objects: Sequence[ObjectResult], contract: Contract | None, tenant: str,
                events: EventLog, base_dir: Any = None) -> None:
    """Register each object's table; failures become warning events (never raised)."""
    try:
        token = cfg.auth_token.resolve(base_dir)
    except Exception as exc:  # noqa: BLE001 - SecretNotAvailable names the reference, never a value
        events.emit("data_catalog_push_failed", logging.WARNING, catalog=cfg.type, reason=str(exc))
        return
    client = OpenMetadataClient(cfg, token)
    try:
        schema_fqn = _containers(client, cfg, contract, tenant)
        owners = _owners(client, contract, events) if cfg.push_metadata and contract else []
        tags = _known_tags(client, contract, events) if cfg.push_metadata and contract else []
        for outcome in objects:
            name = cfg.table_name or outcome.object
            body = _table(cfg, name, schema_fqn, outcome, contract, owners, tags)
            entity = client.call("PUT", "/v1/tables", body)
            events.emit("data_catalog_pushed", catalog=cfg.type, object=outcome.object,
                        fqn=entity.get("fullyQualifiedName") or f"{schema_fqn}.{name}", columns=len(body["columns"]),
                        metadata=cfg.push_metadata)
    except PushFailed as exc:
        events.emit("data_catalog_push_failed", logging.WARNING, catalog=cfg.type, reason=str(exc),
                    hint="the data is committed; the catalog entry is retried by the next run")
    finally:
        client.close()


def _containers(client: OpenMetadataClient, cfg: OpenMetadataPush, contract: Contract | None, tenant: str) -> str:
    database = cfg.database or (contract.domain if contract else None) or tenant
    schema = cfg.database_schema or (contract.data_product if contract else None) or "default"
    client.call("PUT", "/v1/services/databaseServices", {
        "name": cfg.service, "serviceType": "CustomDatabase",
        "connection": {"config": {"type": "CustomDatabase", "sourcePythonClass": "dativo"}}})
    client.call("PUT", "/v1/databases", {"name": database, "service": cfg.service})
    client.call("PUT", "/v1/databaseSchemas", {"name": schema, "database": f"{cfg.service}.{database}"})
    return f"{cfg.service}.{database}.{schema}"


def upstream_tags(contract: Contract) -> list[str]:
    """The tags upstream Dativo pushes for an asset (catalog/base.py `_extract_tags`), in its order."""
    tags = list(contract.tags)
    for prefix, value in (("domain", contract.domain), ("data-product", contract.data_product),
                          ("source-type", contract.source_type)):
        if value:
            tags.append(f"{prefix}:{value}")
    tags += [f"classification:{c}" for c in (contract.compliance or {}).get("classification") or []]
    finops = contract.finops or {}
    if finops.get("cost_center"):
        tags.append(f"cost-center:{finops['cost_center']}")
    tags += [str(t) for t in finops.get("business_tags") or []]
    return list(dict.fromkeys(tags))


def _known_tags(client: OpenMetadataClient, contract: Contract, events: EventLog) -> list[str]:
    """upstream_tags that exist in OpenMetadata (a table naming an unknown tag is refused as a whole)."""
    tags = upstream_tags(contract)
    known = [t for t in tags if client.call("GET", f"/v1/tags/name/{t}", missing_ok=True) is not None]
    if len(known) < len(tags):
        events.emit("data_catalog_tags_unknown", logging.WARNING, tags=[t for t in tags if t not in known],
                    hint="create these tags (Classification.Tag) in OpenMetadata to have them set")
    return known


def _owners(client: OpenMetadataClient, contract: Contract, events: EventLog) -> list[dict[str, str]]:
    """Contract owners (and team role emails, as upstream) that are OpenMetadata users (by name, then the
    email's local part)."""
    found = []
    roles = [r["email"] for r in (contract.team.roles if contract.team else []) if r.get("email")]
    for owner in dict.fromkeys([*contract.all_owners(), *roles]):
        for name in dict.fromkeys([owner, owner.split("@")[0]]):
            user = client.call("GET", f"/v1/users/name/{name}", missing_ok=True)
            if user and user.get("id"):
                found.append({"id": str(user["id"]), "type": "user"})
                break
        else:
            events.emit("data_catalog_owner_unknown", logging.WARNING, owner=owner,
                        hint="no OpenMetadata user has this name; the table is registered without this owner")
    return found


def _table(cfg: OpenMetadataPush, name: str, schema_fqn: str, outcome: ObjectResult, contract: Contract | None,
           owners: list[dict[str, str]], tags: list[str]) -> dict[str, Any]:
    declared = {c.name: c for c in contract.columns} if contract else {}
    landed = [n for n, _ in outcome.columns] or list(declared)
    arrow = dict(outcome.columns)
    columns = [_column(n, declared.get(n), arrow.get(n)) for n in landed]
    body: dict[str, Any] = {"name": name, "databaseSchema": schema_fqn, "tableType": "Regular", "columns": columns}
    if cfg.push_metadata and contract is not None:
        description = _description(contract)
        if description:
            body["description"] = description
        if tags:
            body["tags"] = [{"tagFQN": t, "source": "Classification", "labelType": "Manual", "state": "Confirmed"}
                            for t in tags]
        if owners:
            body["owners"] = owners
    return body


def _column(name: str, declared: Column | None, arrow: str | None) -> dict[str, Any]:
    if declared is not None:
        kind = OM_TYPES.get(declared.type, "STRING")
        constraint = "PRIMARY_KEY" if declared.primary_key else ("NOT_NULL" if declared.required else "NULL")
    else:
        kind = next((om for prefix, om in ARROW_TYPES if (arrow or "").startswith(prefix)), "STRING")
        constraint = "NULL"
    column: dict[str, Any] = {"name": name, "dataType": kind, "dataTypeDisplay": kind.lower(), "constraint": constraint}
    if declared is not None and declared.description:
        column["description"] = declared.description
    return column


def _description(contract: Contract) -> str | None:
    """An ODCS description (text, or {purpose, usage, limitations}) as one text, formatted as upstream does."""
    value = contract.description
    if isinstance(value, dict):
        parts = [f"{k.capitalize()}: {value[k]}" for k in ("purpose", "usage", "limitations") if value.get(k)]
        return "\n\n".join(parts) or None
    return value
