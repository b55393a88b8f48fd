"""Upstream `gdrive_csv` / `google_sheets` sources -> dativo's Google Drive / Sheets sources, with upstream's
meaning (its native engine: Drive API v3 / Sheets API v4 with a service-account key).

- Drive `files[]`: `file_id` (upstream's examples; its reader also takes `id` or `path` as the id) or `folder_id`.
- Sheets `sheets[]` (or `spreadsheets[]`): `spreadsheet_id` (or `id`), `sheet_id` (gid) or `sheet` (title),
  `range`, `has_header`.
- The key, as upstream looks for it: the job's `source.credentials` (`credentials_path`, `service_account_file`,
  `file` or `path`); the selected secret manager's `gdrive` / `gsheets` secret (named by the recipe's
  `credentials.file_template`); the template's file (`/secrets/{tenant}/gdrive.json`, under --secrets-dir when
  given) when it exists; `$GDRIVE_CREDENTIALS_PATH` / `$GSHEETS_CREDENTIALS_PATH`; else
  `$GOOGLE_APPLICATION_CREDENTIALS` at run time; else the template's file (a clear error when it is missing).
- `incremental` present: by the file's `modifiedTime` (upstream's file_modified_time / spreadsheet_modified_time).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .recipes import Recipe
    from .translate import _Ctx

PATH_KEYS = ("credentials_path", "service_account_file", "file", "path")
ENV_PATHS = {"gdrive_csv": "GDRIVE_CREDENTIALS_PATH", "google_sheets": "GSHEETS_CREDENTIALS_PATH"}
DRIVE_KEYS = {"file_id", "id", "path", "folder_id", "object", "name"}
SHEET_KEYS = {"spreadsheet_id", "id", "sheet_id", "sheet", "range", "has_header", "object", "name"}


def google_source(ctx: _Ctx, kind: str, src: dict[str, Any], recipe: Recipe | None,
                  incremental: dict[str, Any]) -> dict[str, Any]:
    from .translate import _dict, _list

    out: dict[str, Any] = {"type": kind}
    credentials = _credentials(ctx, kind, _dict(src.get("credentials")), recipe)
    if credentials is not None:
        out["credentials"] = credentials
    if kind == "gdrive_csv":
        out["files"] = [_drive_file(ctx, index, _dict(entry))
                        for index, entry in enumerate(_list(ctx, src.get("files"), "source", "files"))]
        if not out["files"]:
            ctx.refuse("a gdrive_csv source needs `files` (each with a `file_id`)", "source", "files")
        native = recipe.native_options() if recipe else {}
        out["csv"] = {k: native[k] for k in ("delimiter", "quote_char", "encoding") if k in native}
        if native.get("chunk_size"):
            out["batch_rows"] = native["chunk_size"]
    else:
        key = "sheets" if "sheets" in src or "spreadsheets" not in src else "spreadsheets"
        out["sheets"] = [_sheet(ctx, key, index, _dict(entry))
                         for index, entry in enumerate(_list(ctx, src.get(key), "source", key))]
        if not out["sheets"]:
            ctx.refuse("a google_sheets source needs `sheets` (each with a `spreadsheet_id`)", "source", "sheets")
    if "incremental" in src:
        out["incremental"] = {"strategy": "file_modified_time"}
        if incremental.get("lookback_days"):  # a file-level strategy has no cursor to look back from
            ctx.unhonoured.append(f"lookback_days={incremental['lookback_days']} on a {kind} source")
    return out


def _drive_file(ctx: _Ctx, index: int, entry: dict[str, Any]) -> dict[str, Any]:
    for key in entry.keys() - DRIVE_KEYS:
        ctx.refuse(f"unknown Google Drive file field {key!r} (expected: file_id or folder_id, object)",
                   "source", "files", index, key)
    out: dict[str, Any] = {"object": entry.get("object") or entry.get("name")}
    if entry.get("folder_id"):
        out["folder_id"] = str(entry["folder_id"])
    else:
        out["file_id"] = str(entry.get("file_id") or entry.get("id") or entry.get("path") or "")
    return out


def _sheet(ctx: _Ctx, key: str, index: int, entry: dict[str, Any]) -> dict[str, Any]:
    for name in entry.keys() - SHEET_KEYS:
        ctx.refuse(f"unknown Google Sheets field {name!r} (expected: spreadsheet_id, sheet_id or sheet, range, "
                   "has_header, object)", "source", key, index, name)
    out: dict[str, Any] = {"spreadsheet_id": str(entry.get("spreadsheet_id") or entry.get("id") or ""),
                           "object": entry.get("object") or entry.get("name"), "header": entry.get("has_header", True)}
    for name in ("sheet_id", "sheet", "range"):
        if entry.get(name) is not None:
            out[name] = entry[name]
    return out


def _credentials(ctx: _Ctx, kind: str, job: dict[str, Any], recipe: Recipe | None) -> dict[str, Any] | None:
    from .paths import map_path
    from .secrets import SECRETS_DIR_ENV, SecretManagerError, credential_name, load_secrets, selected

    for key in PATH_KEYS:
        if job.get(key):
            return {"file": str(map_path(str(job[key]), ctx.doc.file))}
    template = (recipe.section("credentials") if recipe else {}).get("file_template")
    name = credential_name(template)
    if name and selected():
        try:
            payload = load_secrets(ctx.tenant, ctx.doc.file).get(name)
        except SecretManagerError as exc:
            ctx.refuse(str(exc), "source_connector_path")
            return None
        except Exception as exc:  # noqa: BLE001 - a manager's own failure, named (never a value)
            ctx.refuse(f"secret {name!r} of tenant {ctx.tenant!r} could not be read: {type(exc).__name__}",
                       "source_connector_path")
            return None
        if payload:
            return {"value": json.dumps(payload) if isinstance(payload, dict) else str(payload)}
    path = None
    if isinstance(template, str) and template:
        text = template.replace("{tenant}", ctx.tenant)
        if os.environ.get(SECRETS_DIR_ENV) and text.startswith("/secrets/"):
            text = os.environ[SECRETS_DIR_ENV].rstrip("/") + text[len("/secrets"):]
        path = Path(text)
        if path.is_file():
            return {"file": str(path)}
    if os.environ.get(ENV_PATHS[kind]):
        return {"file": os.environ[ENV_PATHS[kind]]}
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or path is None:
        return None  # the engine reads $GOOGLE_APPLICATION_CREDENTIALS (or says that no key is given)
    return {"file": str(path)}
