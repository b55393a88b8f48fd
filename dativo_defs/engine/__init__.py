"""The engine moves the data of one job run. It imports neither dagster nor airflow (tests/test_layers.py)."""
