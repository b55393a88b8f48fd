"""A real `airflow standalone` (scheduler, dag-processor, api-server, triggerer) on a free port, driven through
the REST API v2 with token auth, for end-to-end tests of airflow_bridge's DAGs.

The test process never imports Airflow: everything goes through the CLI (prepare) and HTTP.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from airflow_bridge.airflow_api import AirflowApi
from airflow_bridge.standalone import airflow_env, prepare
from tests.conftest import summary
from tests.e2e.servers import VENV_BIN, Server, base_env, free_port, wait_for

TERMINAL = {"success", "failed"}


@dataclass
class AirflowStandalone:
    server: Server
    api: AirflowApi
    env: dict[str, str]
    home: Path
    started_in: float = 0.0
    triggered: list[tuple[str, str]] = field(default_factory=list)
    unpaused: list[str] = field(default_factory=list)  # DAGs that were paused in the DB and unpaused via REST

    @property
    def base_url(self) -> str:
        return self.api.base_url

    # --- REST helpers -------------------------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.api._request(method, path, **kwargs)
        assert response.status_code < 400, f"{method} {path}: HTTP {response.status_code} {response.text[:1000]}"
        return response.json() if response.content else {}

    def dags(self) -> dict[str, dict]:
        body = self.call("GET", "/dags", params={"limit": 1000})
        return {d["dag_id"]: d for d in body["dags"]}

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, timeout: float = 60) -> str:
        """POST a manual run. Right after start-up the dag-processor may still be (re)writing the DAG, so a
        refusal is retried for `timeout` seconds; one that persists fails with Airflow's answer and log tail."""
        refusals: list[str] = []

        def accepted() -> bool:
            response = self.api._request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
            if response.status_code < 400:
                self.triggered.append((dag_id, response.json()["dag_run_id"]))
                return True
            refusals.append(f"HTTP {response.status_code} {response.text[:300]}")
            return False

        try:
            wait_for(accepted, timeout, interval=2, what=f"Airflow to accept a run of {dag_id}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last refusals: {refusals[-3:]}\n--- airflow standalone log tail ---\n"
                               f"{self.server.tail(60)}") from None
        if refusals:  # accepted in the end, but say so: a refusal after start-up would be worth a look
            summary(f"NOTE: Airflow refused {len(refusals)} trigger(s) of {dag_id} before accepting: {refusals[-1]}")
        return self.triggered[-1][1]

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", self.run_path(dag_id, run_id))

    def wait_runs(self, runs: list[tuple[str, str]], timeout: float = 420) -> dict[tuple[str, str], str]:
        """Poll until every (dag_id, run_id) is success or failed; returns the final states."""
        states: dict[tuple[str, str], str] = {}

        def done() -> bool:
            for run in runs:
                if states.get(run) not in TERMINAL:
                    states[run] = self.dag_run(*run)["state"]
            return all(s in TERMINAL for s in states.values())

        try:
            wait_for(done, timeout, interval=2, what="DAG runs to finish")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {states}\n--- airflow standalone log tail ---\n{self.server.tail(60)}") from None
        return states

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        body = self.call("GET", f"{self.run_path(dag_id, run_id)}/taskInstances")
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value"):
        body = self.call("GET", f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}")
        value = body["value"]
        return json.loads(value) if isinstance(value, str) else value

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The task log of one try as text (JSON response: structured entries under `content`)."""
        body = self.call("GET", f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/logs/{try_number}",
                         params={"full_content": "true"})  # requests sends Accept: */* -> JSON
        content = body.get("content", [])
        return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in content)


def admin_password(home: Path) -> str | None:
    path = home / "simple_auth_manager_passwords.json.generated"
    try:
        return json.loads(path.read_text()).get("admin")
    except (OSError, ValueError):
        return None


def start_standalone(root: Path, dag_ids: set[str], timeout: float = 300, **extra_env: str) -> AirflowStandalone:
    """Migrate, sync pools, start `airflow standalone`, log in and wait until every DAG in `dag_ids` is listed
    and unpaused. `extra_env` (DATIVO_RUNNER_CONFIG, DATIVO_HOME, ...) goes to every Airflow process."""
    started = time.monotonic()
    port, home = free_port(), root / "airflow_home"
    # airflow_env starts from os.environ: drop the caller's own dativo/dagster/airflow settings first.
    env = {**base_env(), **{k: v for k, v in airflow_env(port, home).items() if k.startswith("AIRFLOW") or k == "PATH"}}
    env.update({"AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5", **extra_env})
    prepare(env)
    server = Server([str(VENV_BIN / "airflow"), "standalone"], env, root / "airflow_standalone.log")
    try:
        base_url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if server.process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited {server.process.returncode}\n{server.tail(60)}")
            health = _get_json(f"{base_url}/api/v2/monitor/health")
            return health is not None and all(health.get(c, {}).get("status") == "healthy" for c in ("metadatabase", "scheduler"))

        _wait(server, healthy, timeout, f"airflow standalone health at {base_url}")
        _wait(server, lambda: admin_password(home) is not None, 60, "the generated admin password")
        api = AirflowApi.login(base_url, "admin", admin_password(home))
        airflow = AirflowStandalone(server=server, api=api, env=env, home=home)

        def listed() -> bool:
            return dag_ids <= set(airflow.dags())

        _wait(server, listed, timeout, f"DAGs {sorted(dag_ids)} listed via REST")
        for dag_id, dag in airflow.dags().items():
            if dag_id in dag_ids and dag["is_paused"]:
                airflow.unpause(dag_id)
                airflow.unpaused.append(dag_id)
        airflow.started_in = time.monotonic() - started
        return airflow
    except BaseException:
        server.stop()
        raise


def _wait(server: Server, predicate, timeout: float, what: str) -> None:
    try:
        wait_for(predicate, timeout, interval=2, what=what)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n--- airflow standalone log tail ---\n{server.tail(60)}") from None


def _get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None
