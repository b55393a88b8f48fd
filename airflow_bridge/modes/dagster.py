"""`dagster` mode: the task launches the run on a Dagster deployment over GraphQL with dagster-airlift's operator
base, follows it to the end and pushes the run's materialization metadata to XCom (return_value).

Dagster owns the retries: the Airflow task has retries=0 and no retry policy, and the asset retries inside
the Dagster run with RetryRequested on the job's exact curve. DATIVO_DAGSTER_URL points at the webserver.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import requests
from dagster_airlift.in_airflow.materialize_assets_operator import BaseMaterializeAssetsOperator

from ..manifest import DagSpec, TaskSpec
from ..settings import DAGSTER_URL_ENV

AIRFLOW_OWNS_RETRIES = False

MATERIALIZATIONS_QUERY = """
query DativoRunMaterializations($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      id status
      assetMaterializations {
        assetKey { path }
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
          ... on BoolMetadataEntry { boolValue }
          ... on JsonMetadataEntry { jsonString }
        }
      }
    }
  }
}
"""


def build(task: TaskSpec, spec: DagSpec, **airflow_kwargs: Any) -> Any:
    return DativoDagsterOperator(task_id=task.task_id, asset_key_paths=[list(k) for k in task.asset_keys],
                                 **airflow_kwargs)


class DativoDagsterOperator(BaseMaterializeAssetsOperator):
    """Launch, follow (including Dagster's run retries) and report one Dagster run of a job's assets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, dagster_run_status_poll_interval=1, **kwargs)
        self._run_ids: list[str] = []

    def get_dagster_url(self, context: Any) -> str:
        return os.environ.get(DAGSTER_URL_ENV, "http://127.0.0.1:3000").rstrip("/")

    def get_dagster_session(self, context: Any) -> requests.Session:
        """A plain session; add auth headers here for a Dagster deployment behind a proxy."""
        return requests.Session()

    def launch_dagster_run(self, context: Any, session: requests.Session, dagster_url: str,
                           execution_params: Mapping[str, Any]) -> str:
        run_id = super().launch_dagster_run(context, session, dagster_url, execution_params)
        self._run_ids.append(run_id)
        return run_id

    def wait_for_run_to_complete(self, session: requests.Session, dagster_url: str, run_id: str) -> Any:
        if run_id not in self._run_ids:
            self._run_ids.append(run_id)  # a Dagster run retry: the metrics come from the last run
        return super().wait_for_run_to_complete(session, dagster_url, run_id)

    def execute(self, context: Any) -> dict[str, Any]:
        from .runtime import report

        self._run_ids = []
        super().execute(context)
        run_id = self._run_ids[-1]
        return report({"dagster_run_id": run_id, "objects": self.materializations(context, run_id)})

    def materializations(self, context: Any, run_id: str) -> list[dict[str, Any]]:
        session = self.get_dagster_session(context)
        response = session.post(f"{self.get_dagster_url(context)}/graphql",
                                json={"query": MATERIALIZATIONS_QUERY, "variables": {"runId": run_id}}, timeout=10)
        run = self.get_valid_graphql_response(response, "runOrError")
        return [{"asset_key": "/".join(m["assetKey"]["path"]), **{e["label"]: _entry_value(e) for e in m["metadataEntries"]
                                                                  if e["label"] != "dagster/column_schema"}}
                for m in run.get("assetMaterializations", [])]


def _entry_value(entry: Mapping[str, Any]) -> Any:
    for key in ("intValue", "floatValue", "text", "boolValue", "jsonString"):
        if key in entry:
            return entry[key]
    return None
