"""An upstream-format job document -> the input of dativo's JobConfig, the contract, and UpstreamCompat.

Every upstream field is either translated with its upstream meaning or refused with a message naming the
upstream feature and what to use instead (see docs/MIGRATING.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ConfigIssue
from ..sources import RUST_LIBRARY_SUFFIXES
from ..yaml_loader import FieldPath, LoadedYaml, dotted_path
from .dialect import UPSTREAM_RETRYABLE_EXIT_CODES, StateFile, UpstreamCompat
from .paths import is_app_path, map_path
from .recipes import Recipe, fill_template, merged, read_recipe

TOP_LEVEL = {"tenant_id", "environment", "source_connector", "source_connector_path", "target_connector",
             "target_connector_path", "asset", "asset_path", "source", "target", "schema_validation_mode", "logging",
             "retry_config", "classification_overrides", "finops", "governance_overrides", "catalog", "name",
             "description", "$schema"}
REFUSED_SOURCES = {
    "markdown_kv": "Markdown-KV files (`markdown_kv`) are not supported; "
                   "convert them to JSON lines and use a `jsonl` source",
}
DOCKER_ENGINES = {"airbyte": "Airbyte", "meltano": "Meltano", "singer": "Singer"}
SQL_TYPES = {"postgres", "postgresql", "mysql", "mariadb"}
FILE_TYPES = {"csv", "jsonl", "parquet"}
GOOGLE_TYPES = {"gdrive_csv", "google_sheets"}
REST_PATHS = {"stripe": "/v1/{}", "hubspot": "/crm/v3/objects/{}"}
CURSOR_KINDS = {"stripe": "epoch_seconds", "hubspot": "iso_text"}
SQL_CONNECTION_KEYS = {"host", "port", "database", "user", "password", "sslmode"}
S3_KEYS = {"bucket", "prefix", "endpoint", "access_key_id", "secret_access_key", "access_key", "secret_key", "region",
           "path_style_access", "secure", "session_token"}


@dataclass
class Translated:
    job: dict[str, Any]
    contract: dict[str, Any] | None
    contract_file: Path | None
    compat: UpstreamCompat
    recipes: dict[str, Path] = field(default_factory=dict)  # "source" / "target" -> the recipe file used


@dataclass
class _Ctx:
    doc: LoadedYaml
    env: Mapping[str, str]
    tenant: str = ""
    partitioning: Any = None  # the job's (else the recipe's) partition columns; the asset's apply when neither says
    asset: dict[str, Any] = field(default_factory=dict)  # the asset definition as upstream reads it (no wrapper)
    issues: list[ConfigIssue] = field(default_factory=list)
    unhonoured: list[str] = field(default_factory=list)
    read: set[Path] = field(default_factory=set)  # the recipe and asset files looked at, found or not

    def reads(self, path: Path) -> Path:
        """`path` (a recipe or asset file the job is built from) noted for the Airflow manifest's fingerprint."""
        self.read.add(path)
        return path

    def refuse(self, message: str, *path: str | int) -> None:
        self.issues.append(ConfigIssue(str(self.doc.file), message, dotted_path(path), self.doc.line_of(path)))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(ctx: _Ctx, value: Any, *path: str | int) -> list[Any]:
    """`value` as a list; anything else is refused at `path` (None counts as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.refuse(f"expected a list, got {type(value).__name__}", *path)
        return []
    return value


def translate(doc: LoadedYaml, env: Mapping[str, str], read: set[Path] | None = None) -> Translated:
    """Raises ConfigError listing every refused or broken field. `read` collects the recipe and asset files
    looked at, found or not (editing or creating one must rebuild the Airflow manifest)."""
    ctx = _Ctx(doc, env, read=set() if read is None else read)
    data: dict[str, Any] = doc.data
    for key in data:
        if key not in TOP_LEVEL:
            ctx.refuse(f"unknown field {key!r} in an upstream-format job "
                       f"(expected one of: {', '.join(sorted(TOP_LEVEL))})", key)
    data_catalog = _catalog(ctx, data["catalog"]) if data.get("catalog") is not None else None
    src_recipe = _recipe(ctx, data, "source_connector_path")
    tgt_recipe = _recipe(ctx, data, "target_connector_path")
    tenant = ctx.tenant = str(data.get("tenant_id", ""))
    source, compat_fields = _source(ctx, data, src_recipe, tenant)
    target = _target(ctx, data, tgt_recipe)
    contract, contract_file, properties = _asset(ctx, data)
    if source.get("type") == "upstream_plugin":  # upstream writes a plugin's records to the asset's table
        source["object"] = str(_dict(contract).get("name") or data.get("asset") or "")
    if contract is not None and isinstance(data.get("finops"), dict):  # the job's finops override the asset's
        contract["finops"] = {**_dict(contract.get("finops")), **data["finops"]}
    if data_catalog and contract is not None and not data_catalog.get("table_name") and len(_objects(source)) == 1:
        data_catalog["table_name"] = str(contract.get("name") or data.get("asset"))  # upstream: the asset's name
    if properties and isinstance(target, dict) and target.get("type") == "iceberg":
        target["table_properties"] = properties
    if isinstance(target, dict) and target.get("type") == "upstream_writer":  # the plugin's asset_definition
        target["asset"] = {k: ctx.asset[k] for k in ("name", "object", "domain", "dataProduct", "version", "schema",
                                                      "source_type") if k in ctx.asset}
    ingest_date = _partitioning(ctx, target, contract)
    objects = _objects(source)
    if isinstance(target, dict) and target.get("location") and len(objects) > 1:
        target["location"] += "/{table}"  # one table per object here; upstream put them all under one prefix
    retry, retry_fields = _retry(ctx, data)
    if ctx.issues:
        raise ConfigError(ctx.issues)
    job: dict[str, Any] = {"tenant_id": data.get("tenant_id"), "source": source, "target": target,
                           "retry_config": retry}
    for key in ("name", "description", "environment", "schema_validation_mode", "logging"):
        if key in data:
            job[key] = data[key]
    if data_catalog:
        job["data_catalog"] = data_catalog
    logging = _dict(data.get("logging"))
    if logging.get("redaction") is False:
        job["logging"] = {**logging, "redaction": True}  # secrets are always masked here (docs/MIGRATING.md)
        ctx.unhonoured.append("logging.redaction=false")
    compat = UpstreamCompat(file=doc.file, unhonoured=tuple(ctx.unhonoured), ingest_date=ingest_date, **compat_fields,
                            **retry_fields)
    recipes = {side: recipe.file for side, recipe in (("source", src_recipe), ("target", tgt_recipe)) if recipe}
    return Translated(job, contract, contract_file, compat, recipes)


def _objects(source: dict[str, Any]) -> list[Any]:
    return source.get("files") or source.get("tables") or source.get("resources") or source.get("sheets") or []


def _partitioning(ctx: _Ctx, target: Any, contract: dict[str, Any] | None) -> bool:
    """Upstream partitions by `ingest_date` (the run's date, a column it adds) and/or data columns. Iceberg targets
    get identity partitions on them, Parquet (s3/minio) targets Hive-style `col=value/` folders; the ingest_date
    column is added to the contract. Returns whether runs add the ingest_date column."""
    columns = ctx.partitioning or _dict(_dict(contract).get("target")).get("partitioning") or []
    if not isinstance(columns, list) or not columns or not isinstance(target, dict):
        return False
    if target.get("type") == "upstream_writer":  # upstream hands a writer plugin the records as read
        return False
    if target.get("type") == "iceberg":
        target["partitioning"] = [{"column": str(c), "transform": "identity"} for c in columns]
    else:  # s3/minio: Hive-style folders, as upstream's Parquet writer lays them out
        target["partition_by"] = [str(c) for c in columns]
    adds = "ingest_date" in columns
    if adds and contract is not None and not any(c.get("name") == "ingest_date" for c in contract["schema"]):
        contract["schema"] = [*contract["schema"], {"name": "ingest_date", "type": "date", "required": False}]
    return adds


def _recipe(ctx: _Ctx, data: dict[str, Any], key: str) -> Recipe | None:
    value = data.get(key)
    if value is None:
        ctx.refuse("required field is missing (upstream jobs name their connector recipe)", key)
        return None
    path = ctx.reads(map_path(str(value), ctx.doc.file))
    if not path.is_file():
        ctx.refuse(f"connector recipe {path} not found (from {value!r}; /app maps to DATIVO_APP_ROOT or the folder "
                   "holding connectors/)", key)
        return None
    try:
        return read_recipe(path)
    except ConfigError as exc:
        ctx.issues.extend(exc.issues)
        return None


# -- source ---------------------------------------------------------------------------------------------------
def _source(ctx: _Ctx, data: dict[str, Any], recipe: Recipe | None, tenant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    src = _dict(data.get("source"))
    kind = str(data.get("source_connector") or (recipe.type if recipe else ""))
    compat: dict[str, Any] = {}
    if kind in REFUSED_SOURCES:
        ctx.refuse(REFUSED_SOURCES[kind], "source_connector")
        return {}, compat
    if src.get("custom_reader"):
        return _plugin_source(ctx, kind, src), compat
    engine = _dict(src.get("engine"))
    if isinstance(engine.get("type"), str) and engine["type"] in DOCKER_ENGINES:
        ctx.refuse(f"the {DOCKER_ENGINES[engine['type']]} engine (Docker images) is not supported; remove "
                   "`source.engine` to use dativo's built-in reader for this connector", "source", "engine", "type")
    elif engine:
        ctx.refuse("`source.engine` options are not supported; remove the block (dativo's built-in reader is used)",
                   "source", "engine")
    if recipe and recipe.engine_type in DOCKER_ENGINES:
        ctx.unhonoured.append(f"default_engine={recipe.engine_type}")  # the native reader replaces it
    for key in src:
        if key not in {"files", "tables", "objects", "object", "connection", "credentials", "incremental", "engine",
                       "custom_reader", "description", "sheets", "spreadsheets"}:
            ctx.refuse(f"unknown field {key!r} in an upstream source", "source", key)
    incremental = _dict(src.get("incremental"))
    recipe_inc = recipe.section("incremental") if recipe else {}
    if kind in FILE_TYPES:
        return _file_source(ctx, kind, src, recipe, incremental), compat
    if kind in GOOGLE_TYPES:
        from .google import google_source

        return google_source(ctx, kind, src, recipe, incremental), compat
    if kind in SQL_TYPES:
        out = _sql_source(ctx, kind, src, recipe, incremental, recipe_inc)
    elif kind in REST_PATHS:
        out = _rest_source(ctx, kind, src, recipe)
    else:
        ctx.refuse(f"unknown upstream source connector {kind!r}; supported: "
                   f"{', '.join(sorted(FILE_TYPES | GOOGLE_TYPES | SQL_TYPES | set(REST_PATHS)))}", "source_connector")
        return {}, compat
    if "incremental" in src:
        days = incremental.get("lookback_days", recipe_inc.get("lookback_days_default", 0)) or 0
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            ctx.refuse(f"lookback_days must be a whole number of days >= 0 (got {days!r})", "source", "incremental",
                       "lookback_days")
            days = 0
        compat["lookback_days"] = days
        compat["cursor_kind"] = CURSOR_KINDS.get(kind, "datetime")
        compat["state_files"] = _state_files(ctx, kind, src, out, incremental, recipe, tenant)
    return out, compat


def _plugin_source(ctx: _Ctx, kind: str, src: dict[str, Any]) -> dict[str, Any]:
    """`custom_reader: path/module.py:Class` (a Python BaseReader plugin) or `path/libx.so:create_reader` (a Rust
    library over upstream's C ABI) runs as an `upstream_plugin` source. The output table (`object`) is the asset's
    name, set once the asset is read."""
    plugin = _plugin_spec(ctx, str(src["custom_reader"]), "reader", ("source", "custom_reader"))
    if plugin is None:
        return {}
    files = [{**f, "path": str(map_path(str(f["path"]), ctx.doc.file)) if f.get("path") and "://" not in str(f["path"])
              else f.get("path")} for f in (_dict(e) for e in _list(ctx, src.get("files"), "source", "files"))]
    objects = src.get("objects") or ([src["object"]] if src.get("object") else [])
    out: dict[str, Any] = {"type": "upstream_plugin", "plugin": plugin, "connector": kind or "custom",
                           "connection": _dict(src.get("connection")), "credentials": _dict(src.get("credentials")),
                           "engine": _dict(src.get("engine")), "plugin_objects": _list(ctx, objects, "source", "objects"),
                           "files": files, "tables": [_dict(t) for t in _list(ctx, src.get("tables"), "source", "tables")]}
    if "incremental" in src:
        out["incremental"] = _dict(src["incremental"])
    return out


def _plugin_spec(ctx: _Ctx, spec: str, side: str, where: FieldPath) -> str | None:
    """'path:name' of a plugin with its path mapped (/app -> the app root), or None (refused): a .py file and a
    class, or a Rust library (.so/.dylib/.dll) and its create function. The file itself is looked for when a run
    builds the plugin (a Rust library is a build artefact of the deployment): `dativo validate` warns when it is
    missing (config/warnings.py) and the run fails naming the field."""
    path_text, _, name = spec.rpartition(":")
    rust = Path(path_text).suffix in RUST_LIBRARY_SUFFIXES
    path = map_path(path_text, ctx.doc.file) if path_text else None
    if path is None or not name.isidentifier() or (path.suffix != ".py" and not rust):
        ctx.refuse(f"{where[-1]} {spec!r}: expected 'path/to/module.py:ClassName' (a Python Base{side.title()}) or "
                   f"'path/to/libplugin.so:create_{side}' (a Rust library)", *where)
        return None
    return f"{path}:{name}"


def _file_source(ctx: _Ctx, kind: str, src: dict[str, Any], recipe: Recipe | None,
                 incremental: dict[str, Any]) -> dict[str, Any]:
    files = []
    for index, entry in enumerate(_list(ctx, src.get("files"), "source", "files")):
        entry = _dict(entry)
        if "file_id" in entry:
            ctx.refuse(f"a `{kind}` source reads paths; a Google Drive `file_id` needs `source_connector: gdrive_csv`",
                       "source", "files", index, "file_id")
            continue
        path = str(entry.get("path", ""))
        local = path if "://" in path else str(map_path(path, ctx.doc.file))
        files.append({k: v for k, v in {"path": local, "object": entry.get("object")}.items() if v is not None})
    if not files:
        ctx.refuse("a file source needs `files` (each with a `path`)", "source", "files")
    native = recipe.native_options() if recipe else {}
    out: dict[str, Any] = {"type": kind, "files": files}
    if kind == "csv":
        out["csv"] = {k: native[k] for k in ("delimiter", "quote_char", "encoding") if k in native}
    if native.get("chunk_size"):
        out["batch_rows"] = native["chunk_size"]  # validated (a whole number >= 1) by the source model
    if "incremental" in src:
        out["incremental"] = {"strategy": "file_modified_time"}
    return out


def _sql_source(ctx: _Ctx, kind: str, src: dict[str, Any], recipe: Recipe | None, incremental: dict[str, Any],
                recipe_inc: dict[str, Any]) -> dict[str, Any]:
    template = fill_template(recipe.section("connection_template"), ctx.env) if recipe else {}
    from .secrets import sql_credentials

    # recipe template < the tenant's secret < the job's `credentials` < the job's `connection`
    secrets = merged(_credentials(ctx, recipe), sql_credentials(_dict(src.get("credentials"))))
    connection = merged(merged(template, secrets), _dict(src.get("connection")))
    options = {}
    for key in list(connection):
        if key not in SQL_CONNECTION_KEYS:
            ctx.refuse(f"unknown connection field {key!r} (expected: {', '.join(sorted(SQL_CONNECTION_KEYS))})",
                       "source", "connection", key)
        elif key == "sslmode":
            options["sslmode"] = str(connection.pop(key))
    if options:
        connection["options"] = options
    tables = []
    for index, entry in enumerate(_list(ctx, src.get("tables"), "source", "tables")):
        entry = _dict(entry)
        tables.append({k: entry[k] for k in ("name", "query", "object", "cursor_field", "primary_key") if k in entry})
        for key in entry.keys() - {"name", "query", "object", "cursor_field", "primary_key"}:
            ctx.refuse(f"unknown table field {key!r}", "source", "tables", index, key)
    out: dict[str, Any] = {"type": kind, "connection": connection, "tables": tables}
    if "incremental" in src:
        cursor = incremental.get("cursor_field") or recipe_inc.get("cursor_field_default")
        out["incremental"] = {"strategy": "cursor", **({"cursor_field": cursor} if cursor else {}),
                              "enabled": bool(cursor or any(t.get("cursor_field") for t in tables))}
    return out


def _credentials(ctx: _Ctx, recipe: Recipe | None) -> dict[str, Any]:
    """The tenant's database credentials from the selected upstream secret manager (named by the recipe's
    `credentials.file_template`, e.g. /secrets/{tenant}/postgres.env -> `postgres`)."""
    from .secrets import SecretManagerError, credential_name, load_secrets, selected, sql_credentials

    name = credential_name(_dict(recipe.section("credentials") if recipe else {}).get("file_template"))
    if not name or not selected():
        return {}
    try:
        payload = load_secrets(ctx.tenant, ctx.doc.file).get(name)
    except SecretManagerError as exc:
        ctx.refuse(str(exc), "source_connector_path")
        return {}
    except Exception as exc:  # noqa: BLE001 - a manager's own failure (AWS, unreadable file), named
        ctx.refuse(f"secret {name!r} of tenant {ctx.tenant!r} could not be read: {type(exc).__name__}",
                   "source_connector_path")
        return {}
    return sql_credentials(payload)


def _api_key(ctx: _Ctx, kind: str) -> str | None:
    """The tenant's API key from the selected secret manager: secret `<kind>_api_key`, or `<kind>` (text, or an
    object with `api_key` / `token`)."""
    from .secrets import SecretManagerError, load_secrets, selected

    if not selected():
        return None
    try:
        secrets = load_secrets(ctx.tenant, ctx.doc.file)
    except SecretManagerError as exc:
        ctx.refuse(str(exc), "source_connector_path")
        return None
    except Exception as exc:  # noqa: BLE001
        ctx.refuse(f"secrets of tenant {ctx.tenant!r} could not be read: {type(exc).__name__}", "source_connector_path")
        return None
    value = secrets.get(f"{kind}_api_key", secrets.get(kind))
    if isinstance(value, dict):
        value = value.get("api_key") or value.get("token") or value.get(f"{kind.upper()}_API_KEY")
    return str(value) if value else None


def _rest_source(ctx: _Ctx, kind: str, src: dict[str, Any], recipe: Recipe | None) -> dict[str, Any]:
    objects = src.get("objects") or ([src["object"]] if src.get("object") else [])  # README form: `object: customers`
    if not isinstance(objects, list) or not objects:
        ctx.refuse(f"a {kind} source needs `objects` (e.g. [customers])", "source", "objects")
        objects = []
    credentials = _dict(recipe.section("credentials")) if recipe else {}
    job_credentials = _dict(src.get("credentials"))
    token: Any = None
    if job_credentials.get("token") or job_credentials.get("api_key"):
        token = job_credentials.get("token") or job_credentials.get("api_key")
    elif (secret := _api_key(ctx, kind)) is not None:
        token = secret
    elif credentials.get("from_env"):
        token = {"env": credentials["from_env"]}
    out: dict[str, Any] = {"type": kind, "resources": [{"object": o, "path": REST_PATHS[kind].format(o)} for o in objects]}
    if token is not None:
        out["auth"] = {"type": "bearer", "token": token}
    return out


def _state_files(ctx: _Ctx, kind: str, src: dict[str, Any], out: dict[str, Any], incremental: dict[str, Any],
                 recipe: Recipe | None, tenant: str) -> dict[str, StateFile]:
    """Upstream's state file: `incremental.state_path`, else $STATE_DIR (default .local/state) /<tenant>/
    <recipe type>.<first object>.state.json, relative to the app root; one key `<object>.<cursor>` per object."""
    objects = [str(t.get("object") or str(t.get("name", "")).split(".")[-1]) for t in out.get("tables", [])] or \
              [str(r["object"]) for r in out.get("resources", [])]
    if not objects:
        return {}
    path_text = incremental.get("state_path") or \
        f"{os.environ.get('STATE_DIR', '.local/state')}/{tenant}/{recipe.type if recipe else kind}.{objects[0]}.state.json"
    path = map_path(str(path_text), ctx.doc.file)
    default_cursor = _dict(out.get("incremental")).get("cursor_field") or \
        {"stripe": "created", "hubspot": "updatedAt"}.get(kind)
    cursors = {str(t.get("object") or str(t.get("name", "")).split(".")[-1]): t.get("cursor_field") or default_cursor
               for t in out.get("tables", [])} or {o: default_cursor for o in objects}
    return {obj: StateFile(path, f"{obj}.{cursor}") for obj, cursor in cursors.items() if cursor}


# -- target ---------------------------------------------------------------------------------------------------
def _target(ctx: _Ctx, data: dict[str, Any], recipe: Recipe | None) -> dict[str, Any]:
    tgt = _dict(data.get("target"))
    kind = str(data.get("target_connector") or (recipe.type if recipe else ""))
    if tgt.get("custom_writer"):
        return _plugin_target(ctx, kind, tgt, recipe)
    for key in tgt:
        if key not in {"connection", "branch", "warehouse", "file_format", "partitioning", "catalog"}:
            ctx.refuse(f"upstream target field {key!r} is not supported here (supported: connection, branch, warehouse, "
                       "file_format, partitioning)", "target", key)
    file_format = tgt.get("file_format") or (recipe.data.get("file_format") if recipe else None) or "parquet"
    if file_format != "parquet":
        ctx.refuse(f"file_format {file_format!r} is not supported (Markdown-KV storage included); use parquet",
                   "target", "file_format")
    ctx.partitioning = tgt.get("partitioning") or (recipe.data.get("partitioning_default") if recipe else None)
    if not ctx.partitioning and recipe:
        native = _dict(recipe.section("default_engine").get("options")).get("native", {})
        ctx.partitioning = native.get("partition_by_default")
    template = fill_template(recipe.section("connection_template"), ctx.env) if recipe else {}
    connection = merged(template, _dict(tgt.get("connection")))
    if kind == "iceberg":
        return _iceberg(ctx, tgt, connection)
    if kind in ("s3", "minio"):
        storage, bucket, prefix = _storage(ctx, connection, kind, ("target", "connection"))
        if not bucket:
            ctx.refuse("an s3/minio target needs `connection.bucket`", "target", "connection")
        compression = (recipe.native_options().get("compression") if recipe else None) or "snappy"
        out: dict[str, Any] = {"type": "parquet", "path": f"s3://{bucket}/{prefix}".rstrip("/"), "compression": compression}
        if storage:
            out["storage"] = storage
        return out
    ctx.refuse(f"unknown upstream target connector {kind!r}; supported: iceberg, s3, minio", "target_connector")
    return {}


def _plugin_target(ctx: _Ctx, kind: str, tgt: dict[str, Any], recipe: Recipe | None) -> dict[str, Any]:
    """`custom_writer: path/module.py:Class` (a Python BaseWriter) or `path/libx.so:create_writer` (a Rust library)
    runs as an `upstream_writer` target: the plugin gets its `target_config` (connection, engine, file_format) as
    the job wrote it, and dativo keeps its commit log (files and incremental state) under the connection's
    bucket/prefix, the dataset an `s3` target would use (targets/upstream_writer.py says who commits what)."""
    plugin = _plugin_spec(ctx, str(tgt["custom_writer"]), "writer", ("target", "custom_writer"))
    for key in tgt:
        if key not in {"custom_writer", "connection", "engine", "file_format"}:
            ctx.refuse(f"upstream target field {key!r} is not supported with a writer plugin (supported: "
                       "custom_writer, connection, engine, file_format)", "target", key)
    connection = _dict(tgt.get("connection"))
    nested = "s3" if "s3" in connection else "minio" if "minio" in connection else None
    template = fill_template(recipe.section("connection_template"), ctx.env) if recipe else {}
    where: FieldPath = ("target", "connection", nested) if nested else ("target", "connection")
    located = {k: v for k, v in (_dict(connection[nested]) if nested else connection).items() if k in S3_KEYS}
    storage, bucket, prefix = _storage(ctx, merged(template, located), nested or kind, where)
    bucket = bucket or ctx.env.get("S3_BUCKET") or ctx.env.get("MINIO_BUCKET") or ""
    if not bucket:
        ctx.refuse("a writer plugin's target needs a bucket (`connection.s3.bucket`, `connection.bucket` or "
                   "S3_BUCKET): dativo keeps the dataset's commit log there, as upstream builds output_base from it",
                   *where)
    public, secrets = _split_secrets(connection)
    out: dict[str, Any] = {"type": "upstream_writer", "plugin": plugin or "", "connector": kind or "custom",
                           "path": f"s3://{bucket}/{prefix}".rstrip("/"), "connection": public,
                           "connection_secrets": secrets, "engine": _dict(tgt.get("engine"))}
    if tgt.get("file_format"):
        out["file_format"] = str(tgt["file_format"])
    if storage:
        out["storage"] = storage
    return out


def _split_secrets(value: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """A connection without its secret-bearing strings (password, key, token...), and those as `dotted.path: value`:
    they become secrets (masked, resolved when the plugin is built), never plain config."""
    from ..secrets import is_secret_path

    public: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            public[key], inner = _split_secrets(item, f"{prefix}{key}.")
            secrets.update(inner)
        elif isinstance(item, str) and is_secret_path(str(key)):
            secrets[f"{prefix}{key}"] = item
        else:
            public[key] = item
    return public, secrets


def _storage(ctx: _Ctx, conn: dict[str, Any], kind: str, where: FieldPath) -> tuple[dict[str, Any], str, str]:
    for key in conn:
        if key not in S3_KEYS and key not in ("s3", "minio", "nessie"):
            ctx.refuse(f"unknown storage field {key!r} (expected: {', '.join(sorted(S3_KEYS))})", *where, key)
    bucket = conn.get("bucket")
    endpoint = conn.get("endpoint")
    storage: dict[str, Any] = {}
    if endpoint and endpoint != "s3.amazonaws.com":
        scheme = "" if "://" in str(endpoint) else ("https://" if conn.get("secure", kind != "minio") else "http://")
        storage["endpoint_url"] = f"{scheme}{endpoint}"
    for ours, theirs in (("access_key_id", ("access_key_id", "access_key")),
                         ("secret_access_key", ("secret_access_key", "secret_key"))):
        value = next((conn[k] for k in theirs if conn.get(k) is not None), None)
        if value is not None:
            storage[ours] = value
    if conn.get("region"):
        storage["region"] = conn["region"]
    if conn.get("path_style_access") or kind == "minio":
        storage["path_style_access"] = bool(conn.get("path_style_access", True))
    return storage, str(bucket or ""), str(conn.get("prefix") or "").strip("/")


def nessie_rest_uri(uri: str, branch: str | None) -> str:
    """Nessie serves the Iceberg REST API under /iceberg; a branch other than the default is the next segment."""
    base = uri.rstrip("/")
    for suffix in ("/api/v1", "/api/v2", "/api", "/iceberg"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return f"{base}/iceberg/{branch}" if branch else f"{base}/iceberg"


def _warehouse(value: str, ctx: _Ctx) -> str:
    """A warehouse under /app (a local path in the upstream image) maps like every /app path; URLs stay."""
    return str(map_path(value, ctx.doc.file)) if is_app_path(value) else value


def _iceberg(ctx: _Ctx, tgt: dict[str, Any], connection: dict[str, Any]) -> dict[str, Any]:
    s3 = _dict(connection.get("s3")) or _dict(connection.get("minio"))
    storage, bucket, prefix = _storage(ctx, s3, "minio" if "minio" in connection else "s3", ("target", "connection", "s3"))
    nessie = _dict(connection.get("nessie"))
    location = f"s3://{bucket}/{prefix}".rstrip("/")
    if not bucket and not tgt.get("warehouse"):
        ctx.refuse("an iceberg target needs `connection.s3.bucket` (or `warehouse`)", "target", "connection")
    out: dict[str, Any] = {"type": "iceberg"}
    if bucket:  # upstream writes the table's files under bucket/prefix, whatever the catalog's warehouse
        out["location"] = location
    if nessie.get("uri"):
        branch = tgt.get("branch") or nessie.get("ref") or nessie.get("default_branch")
        catalog: dict[str, Any] = {"type": "rest", "name": "nessie", "uri": nessie_rest_uri(str(nessie["uri"]), branch)}
        if tgt.get("warehouse"):
            catalog["warehouse"] = _warehouse(str(tgt["warehouse"]), ctx)
        out["catalog"] = catalog
    else:
        from ..paths import dativo_home

        # Upstream writes the files to bucket/prefix and commits nothing; here they are committed to the embedded
        # catalog, whose warehouse is bucket/prefix.
        dativo_home().mkdir(parents=True, exist_ok=True)  # the embedded catalog's folder, as for dativo's default
        out["catalog"] = {"type": "sql", "uri": f"sqlite:///{dativo_home() / 'catalog.db'}",
                          "warehouse": _warehouse(str(tgt["warehouse"]), ctx) if tgt.get("warehouse") else location}
        if tgt.get("branch"):
            ctx.unhonoured.append("branch without a nessie catalog")
    if storage:
        out["storage"] = storage
    return out


# -- asset ----------------------------------------------------------------------------------------------------
def _asset(ctx: _Ctx, data: dict[str, Any]) -> tuple[dict[str, Any] | None, Path | None, dict[str, str]]:
    from ..yaml_loader import load_yaml
    from .assets import AssetError, contract_dict, table_properties

    value = data.get("asset_path")
    if value is None:
        ctx.refuse("required field is missing (upstream jobs name their asset definition file)", "asset_path")
        return None, None, {}
    path = ctx.reads(map_path(str(value), ctx.doc.file))
    if not path.is_file():
        ctx.refuse(f"asset definition {path} not found (from {value!r})", "asset_path")
        return None, None, {}
    try:
        asset_doc = load_yaml(path)
    except ConfigError as exc:
        ctx.issues.extend(exc.issues)
        return None, None, {}
    if not isinstance(asset_doc.data, dict):
        ctx.issues.append(ConfigIssue(str(path), "an asset definition must be a YAML mapping", "", 1))
        return None, None, {}
    try:
        contract = contract_dict(asset_doc.data)
    except AssetError as exc:
        ctx.issues.append(ConfigIssue(str(path), str(exc), dotted_path(exc.field_path), asset_doc.line_of(exc.field_path)))
        return None, None, {}
    ctx.asset = _dict(asset_doc.data.get("asset", asset_doc.data))
    return contract, path, table_properties(asset_doc.data, data)


# -- data catalog ---------------------------------------------------------------------------------------------
CATALOG_KEYS = {"type", "connection", "database", "table_name", "push_lineage", "push_metadata"}


def _catalog(ctx: _Ctx, value: Any) -> dict[str, Any] | None:
    """`catalog: {type: openmetadata, ...}` (upstream's push of table metadata after a run) -> `data_catalog`.
    Glue, Unity and Nessie pushes are refused (no server to test them against here); lineage is not pushed."""
    cfg = _dict(value)
    kind = cfg.get("type")
    if kind != "openmetadata":
        ctx.refuse(f"upstream data-catalog push to {kind!r} is not supported (no server to test it against here); "
                   "use `type: openmetadata`, or remove the `catalog:` block (an Iceberg catalog goes in "
                   "`target.connection.nessie`)", "catalog", "type")
        return None
    for key in cfg.keys() - CATALOG_KEYS:
        ctx.refuse(f"unknown catalog field {key!r} (expected: {', '.join(sorted(CATALOG_KEYS))})", "catalog", key)
    connection = _dict(cfg.get("connection"))
    for key in connection.keys() - {"api_url", "auth_token"}:
        ctx.refuse(f"unknown OpenMetadata connection field {key!r} (expected: api_url, auth_token)",
                   "catalog", "connection", key)
    out: dict[str, Any] = {
        "type": "openmetadata",
        "api_url": connection.get("api_url") or ctx.env.get("OPENMETADATA_API_URL") or "http://localhost:8585/api",
        # upstream falls back to $OPENMETADATA_AUTH_TOKEN; a value given in the file stays a hidden inline secret
        "auth_token": connection.get("auth_token") or {"env": "OPENMETADATA_AUTH_TOKEN"},
        "push_metadata": cfg.get("push_metadata", True)}
    for key in ("database", "table_name"):
        if cfg.get(key):
            out[key] = str(cfg[key])
    if cfg.get("push_lineage", False):
        ctx.unhonoured.append("catalog.push_lineage")  # lineage shows in Dagster's asset graph instead
    return out


# -- retries --------------------------------------------------------------------------------------------------
def _retry(ctx: _Ctx, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """No `retry_config`: upstream never retries. Present: its defaults, and codes/patterns kept for the decision."""
    if "retry_config" not in data or data["retry_config"] is None:
        return {"max_retries": 0}, {"retry_configured": False}
    cfg = _dict(data["retry_config"])
    if not isinstance(data["retry_config"], dict):
        ctx.refuse("retry_config must be a mapping", "retry_config")
    ours: dict[str, Any] = {k: cfg[k] for k in ("max_retries", "max_attempts", "initial_delay_seconds", "max_delay_seconds",
                                "backoff_multiplier") if k in cfg}
    codes = cfg.get("retryable_exit_codes", list(UPSTREAM_RETRYABLE_EXIT_CODES))
    patterns = _list(ctx, cfg.get("retryable_error_patterns", cfg.get("retryable_errors")), "retry_config",
                     "retryable_error_patterns")
    for key in cfg.keys() - set(ours) - {"retryable_exit_codes", "retryable_error_patterns", "retryable_errors"}:
        ctx.refuse(f"unknown retry_config field {key!r}", "retry_config", key)
    if not isinstance(codes, list) or not all(isinstance(c, int) for c in codes):
        ctx.refuse("retryable_exit_codes must be a list of integers", "retry_config", "retryable_exit_codes")
        codes = []
    import re

    for index, pattern in enumerate(patterns):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            ctx.refuse(f"invalid regular expression {pattern!r}: {exc}", "retry_config", "retryable_error_patterns", index)
    return ours, {"retry_configured": True, "retryable_exit_codes": tuple(codes),
                  "retryable_error_patterns": tuple(str(p) for p in patterns)}
