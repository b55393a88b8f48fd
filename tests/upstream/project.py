"""A small upstream-format project (recipes, assets, jobs, runner) written into a temp folder: the dialect's
fixtures, independent of ../shared/dativo-ingest."""

from __future__ import annotations

import textwrap
from pathlib import Path

RECIPES = {
    "csv": """
        name: csv
        type: csv
        roles: [source, target]
        default_engine: {type: native, options: {native: {chunk_size: 5000, encoding: "utf-8", delimiter: ";", quote_char: "'"}}}
        credentials: {type: none}
        incremental: {strategy: file_modified_time, lookback_days_default: 0}
    """,
    "postgres": """
        name: postgres
        type: postgres
        roles: [source, target]
        default_engine: {type: meltano, options: {meltano: {tap: tap-postgres}}}
        credentials: {type: basic, file_template: "/secrets/{tenant}/postgres.env"}
        connection_template: {host: "${PGHOST}", port: "${PGPORT}", database: "${PGDATABASE}"}
        incremental: {strategy: updated_at, cursor_field_default: updated_at, lookback_days_default: 1}
    """,
    "mysql": """
        name: mysql
        type: mysql
        roles: [source, target]
        default_engine: {type: meltano}
        credentials: {type: basic, file_template: "/secrets/{tenant}/mysql.env"}
        connection_template: {host: "${MYSQL_HOST}", port: "${MYSQL_PORT}", database: "${MYSQL_DB}"}
        incremental: {strategy: updated_at, cursor_field_default: updated_at, lookback_days_default: 1}
    """,
    "stripe": """
        name: stripe
        type: stripe
        roles: [source]
        default_engine: {type: airbyte}
        credentials: {type: api_key, from_env: STRIPE_API_KEY}
        incremental: {strategy: created, cursor_field_default: created, lookback_days_default: 1}
    """,
    "iceberg": """
        name: iceberg
        type: iceberg
        roles: [target]
        default_engine: {type: native, options: {native: {compression: snappy}}}
        connection_template:
          s3:
            endpoint: "${S3_ENDPOINT}"
            access_key_id: "${AWS_ACCESS_KEY_ID}"
            secret_access_key: "${AWS_SECRET_ACCESS_KEY}"
            region: "${AWS_REGION}"
            path_style_access: false
        file_format: parquet
        partitioning_default: [ingest_date]
    """,
    "s3": """
        name: s3
        type: s3
        roles: [source, target]
        default_engine: {type: native, options: {native: {compression: snappy, partition_by_default: [ingest_date]}}}
        connection_template: {bucket: "${S3_BUCKET}", endpoint: "s3.amazonaws.com", access_key_id: "${AWS_ACCESS_KEY_ID}",
                              secret_access_key: "${AWS_SECRET_ACCESS_KEY}", region: "${AWS_REGION}"}
    """,
    "minio": """
        name: minio
        type: minio
        roles: [source, target]
        default_engine: {type: native, options: {native: {compression: zstd}}}
        connection_template: {endpoint: "${MINIO_ENDPOINT}", bucket: "${MINIO_BUCKET}", access_key_id: "${MINIO_ACCESS_KEY}",
                              secret_access_key: "${MINIO_SECRET_KEY}", secure: false, path_style_access: true}
    """,
    "gdrive_csv": """
        name: gdrive_csv
        type: gdrive_csv
        roles: [source]
        default_engine: {type: native, options: {native: {api_version: v3, mime_type: text/csv}}}
        credentials: {type: service_account, file_template: "/secrets/{tenant}/gdrive.json"}
        incremental: {strategy: file_modified_time, lookback_days_default: 0}
    """,
    "google_sheets": """
        name: google_sheets
        type: google_sheets
        roles: [source, target]
        default_engine: {type: native, options: {native: {api_version: v4, value_render_option: UNFORMATTED_VALUE}}}
        credentials: {type: service_account, file_template: "/secrets/{tenant}/gsheets.json"}
        incremental: {strategy: spreadsheet_modified_time, lookback_days_default: 0}
    """,
}

ASSETS = {
    # the older `asset:` wrapper
    "orders.yaml": """
        asset:
          name: pg_orders
          source_type: postgres
          object: orders
          version: "1.0"
          schema:
            - {name: id, type: bigint, required: true}
            - {name: updated_at, type: timestamp, required: true}
            - {name: amount, type: decimal, required: false}
            - {name: email, type: string, classification: PII}
          governance: {owner: data@acme.test, tags: [orders, sales]}
          compliance: {classification: [SENSITIVE], retention_days: 30, regulations: [SOX]}
          finops: {cost_center: FIN-002, business_tags: [revenue, orders]}
          target: {file_format: parquet, partitioning: [ingest_date], mode: strict}
    """,
    # flat ODCS v3
    "people.yaml": """
        $schema: schemas/odcs/dativo-odcs-3.0.2-extended.schema.json
        apiVersion: v3.0.2
        kind: DataContract
        name: people
        version: "1.0"
        source_type: csv
        object: people
        schema:
          - {name: id, type: integer, required: true}
          - {name: name, type: string, required: true}
          - {name: score, type: double}
        team: {owner: people@acme.test, roles: [{name: Data Engineer, email: e@acme.test, responsibility: ingestion}]}
        compliance: {classification: [PII], retention_days: 90}
    """,
    "deals.yaml": """
        asset:
          name: gdrive_deals_daily
          source_type: gdrive_csv
          object: deals_daily
          version: "1.0"
          schema:
            - {name: deal_id, type: string, required: true}
            - {name: amount, type: double}
            - {name: closed_at, type: timestamp}
          governance: {owner: data-team@acme.test, tags: [deals, sales], retention_days: 30}
          target: {file_format: parquet, partitioning: [ingest_date], mode: strict}
    """,
    "nested.yaml": """
        apiVersion: v3.0.2
        kind: DataContract
        name: nested
        schema:
          - {name: id, type: string, required: true}
          - {name: sections, type: array}
    """,
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def upstream_project(root: Path) -> Path:
    """Recipes under connectors/, assets under assets/; returns root (upstream's /app)."""
    for name, text in RECIPES.items():
        write(root / "connectors" / f"{name}.yaml", text)
    for name, text in ASSETS.items():
        write(root / "assets" / name, text)
    return root


def job(root: Path, rel: str, text: str) -> Path:
    return write(root / rel, text)
