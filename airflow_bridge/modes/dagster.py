"""`dagster` mode: launch the run on a Dagster deployment over GraphQL with dagster-airlift's operator base,
which polls the run and follows Dagster's run retries. DATIVO_DAGSTER_URL points at the webserver."""

from __future__ import annotations

import os

from dagster_airlift.in_airflow.materialize_assets_operator import BaseMaterializeAssetsOperator

from ..settings import DAGSTER_URL_ENV


class DativoDagsterOperator(BaseMaterializeAssetsOperator):
    def get_dagster_url(self, context) -> str:
        return os.environ.get(DAGSTER_URL_ENV, "http://127.0.0.1:3000")
