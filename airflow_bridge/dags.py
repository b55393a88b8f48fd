"""The Airflow entry point. An Airflow dags folder needs one file:

    from airflow_bridge.dags import *  # noqa: F401,F403

It registers one DAG per Dagster schedule/sensor of dativo_defs (and one manual DAG per unscheduled job), from
the manifest `dativo airflow compile` wrote. A parse only reads it, never builds the Dagster definitions: when
the configs changed since, it serves the last good DAGs and says so (parse.py).
"""

from __future__ import annotations

from .parse import manifest_for_parse
from .render import PLACEHOLDER_DAG_ID, placeholder_dag, render_dag
from .settings import execution_mode

_view = manifest_for_parse()
_mode = execution_mode()
__all__ = []
if _view.manifest is None:
    globals()[PLACEHOLDER_DAG_ID] = placeholder_dag(_view.notice or "")
    __all__.append(PLACEHOLDER_DAG_ID)
else:
    for _spec in _view.manifest.dags:
        globals()[_spec.dag_id] = render_dag(_spec, _mode, _view.notice)
        __all__.append(_spec.dag_id)
