"""A broken runner entry in Airflow: Airflow's own DagBag loads a paused placeholder DAG tagged `dativo:invalid`,
built from the Dagster placeholder's InvalidEntryContract (never from the YAML), whose doc shows the error and
whose only task fails at once with it; the other DAGs load as before."""

from __future__ import annotations

import pytest

from tests.airflow.helpers import make_airflow_env

PLACEHOLDERS = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
out = dict(import_errors=bag.import_errors, dag_ids=sorted(bag.dags), invalid={})
for dag in bag.dags.values():
    if "dativo:invalid" not in dag.tags:
        continue
    [task] = dag.tasks
    try:
        task.python_callable(**task.op_kwargs)  # what the worker runs on a manual trigger
        raised = None
    except AirflowFailException as exc:
        raised = str(exc)
    out["invalid"][dag.dag_id] = dict(paused=dag.is_paused_upon_creation, timetable=type(dag.timetable).__name__,
                                      tags=sorted(dag.tags), description=dag.description, doc_md=dag.doc_md,
                                      task=task.task_id, retries=task.retries, raised=raised)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    env = make_airflow_env(tmp_path_factory.mktemp("invalid"))
    customers = env.project / "jobs/acme/customers.yaml"
    customers.write_text(customers.read_text().replace("type: sqlite", "type: sqlitee"))
    (env.project / "jobs/acme/orders_rebuild.yaml").write_text("tenant_id: acme\nsource: {type: csv}\n")
    return env, env.json_from(PLACEHOLDERS)


def test_the_broken_entries_are_paused_placeholders_and_the_others_load(loaded):
    env, out = loaded
    assert out["import_errors"] == {}
    assert set(out["invalid"]) == {"acme_customers", "orders_rebuild"}
    assert {"acme_orders_hourly", "globex_events", "globex_catalog_daily", "initech_tickets"} <= set(out["dag_ids"])
    customers = out["invalid"]["acme_customers"]
    assert (customers["paused"], customers["timetable"], customers["tags"]) == (True, "NullTimetable", ["dativo:invalid"])
    error = f"{env.project}/jobs/acme/customers.yaml:4: source: unknown type 'sqlitee'; expected one of: 'csv'"
    assert customers["description"].startswith(f"INVALID schedule 'acme_customers': not loaded (1 problem(s)): {error}")
    assert f"- `{error}" in customers["doc_md"] and "**Fix:** edit the file at the line shown" in customers["doc_md"]
    rebuild = out["invalid"]["orders_rebuild"]
    assert "INVALID job file 'orders_rebuild'" in rebuild["doc_md"]
    assert "orders_rebuild.yaml:2: source.files: required field is missing" in rebuild["doc_md"]


def test_a_manual_run_of_a_placeholder_fails_fast_with_the_error(loaded):
    env, out = loaded
    customers = out["invalid"]["acme_customers"]
    assert (customers["task"], customers["retries"]) == ("invalid_config", 0)
    assert customers["raised"].startswith("INVALID schedule 'acme_customers'")
    assert "customers.yaml:4: source: unknown type 'sqlitee'" in customers["raised"]
