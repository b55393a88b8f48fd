"""Upstream secret managers: where an upstream-format job's credentials come from.

- env: variables `DATIVO_SECRET__<TENANT>__<NAME>[__ENV|__JSON]` (scope GLOBAL/ALL too); NAME lower-cased.
- filesystem: `<secrets dir>/<tenant>/<name>.env|.json|<other>` (dotenv, JSON, or raw text).
- aws: AWS Secrets Manager through boto3; the config names `secret_id_template` ("{tenant}/{name}") or a
  `bundle_secret_id_template` holding a JSON object of secrets.
- vault / gcp: refused (no server to test against here); use env, filesystem or aws.

The CLI selects the manager (`--secret-manager`, `--secret-manager-config`, `--secrets-dir`) through the
environment variables below, so every process that loads the job (Dagster code server, Airflow task) agrees.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..bounded import read_bounded
from ..secrets import read_secret_file
from ..yaml_loader import MAX_FILE_BYTES

MANAGER_ENV = "DATIVO_SECRET_MANAGER"
MANAGER_CONFIG_ENV = "DATIVO_SECRET_MANAGER_CONFIG"
SECRETS_DIR_ENV = "DATIVO_SECRETS_DIR"
MANAGERS = ("env", "filesystem", "aws")
REFUSED = {"vault": "HashiCorp Vault", "gcp": "GCP Secret Manager"}


class SecretManagerError(ValueError):
    """The selected secret manager cannot be used (unknown, refused, or misconfigured)."""


def parse_payload(text: str, hint: str | None = None) -> Any:
    """JSON, dotenv (KEY=VALUE lines) or raw text; `hint` (json / env) skips the guess."""
    stripped = text.strip()
    lines = [line.strip() for line in stripped.splitlines() if line.strip() and not line.strip().startswith("#")]
    if hint == "json" or (hint is None and stripped[:1] == "{"):
        return json.loads(stripped)
    if hint == "env" or (hint is None and lines and all("=" in line for line in lines)):
        out = {}
        for line in lines:
            key, _, value = line.removeprefix("export ").partition("=")
            out[key.strip()] = value.strip().strip('"').strip("'")
        return out
    return stripped


def selected() -> bool:
    """True when the user chose a manager (CLI flags) or set env-manager variables."""
    return bool(os.environ.get(MANAGER_ENV) or os.environ.get(SECRETS_DIR_ENV)
                or any(k.upper().startswith("DATIVO_SECRET__") for k in os.environ))


def manager_kind() -> str:
    kind = os.environ.get(MANAGER_ENV) or ("filesystem" if os.environ.get(SECRETS_DIR_ENV) else "env")
    if kind in REFUSED:
        raise SecretManagerError(f"the {REFUSED[kind]} secret manager is not supported here (no server to test it "
                                 "against); use --secret-manager env, filesystem or aws")
    if kind not in MANAGERS:
        raise SecretManagerError(f"unknown secret manager {kind!r}; expected one of: {', '.join(MANAGERS)}")
    return kind


def _config() -> dict[str, Any]:
    raw = os.environ.get(MANAGER_CONFIG_ENV)
    if not raw:
        return {}
    text = read_bounded(Path(raw), MAX_FILE_BYTES).decode("utf-8") \
        if not raw.lstrip().startswith("{") and Path(raw).is_file() else raw
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SecretManagerError("--secret-manager-config must be a JSON/YAML object (inline or a file)")
    return data


def load_secrets(tenant: str, anchor: Path | None = None) -> dict[str, Any]:
    """The tenant's secrets from the selected manager: name -> parsed payload (dict for .env/JSON). The
    filesystem manager's root is --secrets-dir, else /secrets (upstream's `/secrets/{tenant}/...` templates) when it
    exists, else `secrets/` under the app root of `anchor` (the job file)."""
    kind = manager_kind()
    if kind == "env":
        return _from_env(tenant)
    if kind == "filesystem":
        root = os.environ.get(SECRETS_DIR_ENV) or _config().get("secrets_dir")
        if not root:
            from .paths import app_root

            root = "/secrets" if Path("/secrets").is_dir() else str(app_root(anchor) / "secrets")
        return _from_dir(Path(root) / tenant)
    return _from_aws(tenant, _config())


def _from_env(tenant: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in os.environ.items():
        parts = key.split("__")
        if (len(parts) < 3 or parts[0].upper() != "DATIVO_SECRET"
                or parts[1].upper() not in {tenant.upper(), "GLOBAL", "ALL"}):
            continue
        names = [p for p in parts[2:] if p]
        hint = names.pop().lower() if names and names[-1].lower() in {"json", "env", "text", "raw"} else None
        if names:
            out["_".join(names).lower()] = parse_payload(value, None if hint in ("text", "raw") else hint) \
                if hint not in ("text", "raw") else value
    return out


def _from_dir(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not folder.is_dir():
        return out
    for file in sorted(folder.iterdir()):
        if file.is_file():
            hint = {".json": "json", ".env": "env"}.get(file.suffix)
            out[file.stem.lower()] = parse_payload(read_secret_file(file), hint)  # bounded, regular files only
    return out


def _from_aws(tenant: str, config: dict[str, Any]) -> dict[str, Any]:
    import boto3

    client = boto3.session.Session().client("secretsmanager", region_name=config.get("region_name"),
                                            endpoint_url=config.get("endpoint_url"))
    bundle = config.get("bundle_secret_id_template")
    if bundle:
        parsed = parse_payload(client.get_secret_value(SecretId=bundle.format(tenant=tenant))["SecretString"], "json")
        if not isinstance(parsed, dict):
            raise SecretManagerError("an AWS bundle secret must hold a JSON object")
        return {k.lower(): v for k, v in parsed.items()}
    template = config.get("secret_id_template", "{tenant}/{name}")
    out: dict[str, Any] = {}
    for entry in config.get("secrets") or []:
        name = entry if isinstance(entry, str) else entry["name"]
        payload = client.get_secret_value(SecretId=template.format(tenant=tenant, name=name))["SecretString"]
        out[name.lower()] = parse_payload(payload)
    return out


# credential keys of a basic (database) secret -> SqlConnection fields
_SQL_KEYS = {"host": "host", "port": "port", "database": "database", "user": "user", "username": "user",
             "password": "password", "PGHOST": "host", "PGPORT": "port", "PGDATABASE": "database", "PGUSER": "user",
             "PGPASSWORD": "password", "MYSQL_HOST": "host", "MYSQL_PORT": "port", "MYSQL_DB": "database",
             "MYSQL_DATABASE": "database", "MYSQL_USER": "user", "MYSQL_PASSWORD": "password"}


def sql_credentials(payload: Any) -> dict[str, Any]:
    """A database secret (dotenv or JSON) as connection fields."""
    if not isinstance(payload, dict):
        return {}
    return {_SQL_KEYS[k]: v for k, v in payload.items() if k in _SQL_KEYS}


def credential_name(file_template: str | None) -> str | None:
    """`/secrets/{tenant}/postgres.env` -> `postgres` (the secret's name in any manager)."""
    return Path(file_template).stem.lower() if isinstance(file_template, str) and file_template else None
