# The one file an Airflow dags folder needs: every dativo schedule becomes a native Airflow 3 DAG, rendered from
# dativo_defs' Dagster definitions for the runner file named by DATIVO_RUNNER_CONFIG.
from airflow_bridge.dags import *  # noqa: F401,F403
