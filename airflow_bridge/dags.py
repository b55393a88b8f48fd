"""The Airflow entry point. An Airflow dags folder needs one file:

    from airflow_bridge.dags import *  # noqa: F401,F403

It registers one DAG per Dagster schedule/sensor of dativo_defs (and one manual DAG per unscheduled job),
from a manifest that is rebuilt only when the configs or dativo change (see manifest.py).
"""

from __future__ import annotations

from .cache import load_manifest
from .render import render_dag
from .settings import execution_mode

_manifest = load_manifest()
_mode = execution_mode()
__all__ = []
for _spec in _manifest.dags:
    globals()[_spec.dag_id] = render_dag(_spec, _mode)
    __all__.append(_spec.dag_id)
