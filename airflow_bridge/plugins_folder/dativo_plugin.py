# An Airflow plugins folder needs this one file: it registers dativo's cron timetable (airflow_bridge.plugin).
from airflow_bridge.plugin import DativoPlugin  # noqa: F401
