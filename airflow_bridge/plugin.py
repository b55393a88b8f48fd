"""The Airflow plugin that registers dativo's timetable (so the scheduler and serialization know it).

Registered twice, for either kind of deployment: the `airflow.plugins` entry point in pyproject.toml (installed
packages), and `airflow_bridge/plugins_folder/dativo_plugin.py` for a plugins folder (`dativo airflow
standalone` sets AIRFLOW__CORE__PLUGINS_FOLDER to it).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from .timetable import DativoCronTimetable


class DativoPlugin(AirflowPlugin):
    name = "dativo"
    timetables = [DativoCronTimetable]
