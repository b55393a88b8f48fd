"""airflow_bridge: renders dativo_defs' Dagster definitions as native Airflow 3 DAGs (never reads YAML itself)."""
