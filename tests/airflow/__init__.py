"""Tests of airflow_bridge under real Airflow 3.3 (DagBag, manifest cache, `airflow dags test`)."""
