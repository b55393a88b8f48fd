"""dativo_defs: the config contract (`config/`), the engine (`engine/`, no orchestrator imports) and the
Dagster code location built from the configs. Airflow lives in `airflow_bridge`, which imports this package,
never the other way round."""
