"""Start and stop real orchestrator servers on loopback with free ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 1.0, what: str = "condition",
             abort: Callable[[], object] | None = None) -> None:
    """Poll `predicate`; `abort` returning something truthy (e.g. a dead server's log tail) fails at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        reason = abort() if abort else None
        if reason:
            raise RuntimeError(f"gave up waiting for {what}: {reason}")
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Server:
    """A process group started with a log file; stop() terminates the whole group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.log = log
        self._handle = open(log, "w")
        self.process = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._handle, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._handle.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATIVO_", "DAGSTER_", "AIRFLOW_"))}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONPATH"] = str(REPO)
    # dativo's Airflow plugin (its cron timetable), also registered by the `airflow.plugins` entry point once
    # the package is installed; Airflow skips the second registration
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "airflow_bridge" / "plugins_folder")
    env.update(extra)
    return env


# --- dagster dev (used by test_both_orchestrators.py and test_dagster_recovery.py) ---------------------------------
DAGSTER_LOCATION = "dativo"  # workspace.yaml's location_name
DAGSTER_REPOSITORY = "__repository__"  # the implicit repository of a Definitions object


def start_dagster_dev(port: int, env: dict[str, str], log: Path) -> Server:
    """`dagster dev -w workspace.yaml` on loopback; returns at once (see wait_dagster_ready)."""
    return Server([str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                  env, log)


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    """POST a query to the Dagster webserver's GraphQL API; returns `data` (raises on GraphQL errors)."""
    import json

    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def wait_dagster_ready(server: Server, port: int, timeout: float = 180) -> None:
    """Until the webserver answers and the `dativo` code location has loaded its repository."""
    query = """query($s: RepositorySelector!) { repositoryOrError(repositorySelector: $s) { __typename } }"""
    selector = {"repositoryLocationName": DAGSTER_LOCATION, "repositoryName": DAGSTER_REPOSITORY}

    def loaded() -> bool:
        if not http_ok(f"http://127.0.0.1:{port}/server_info"):
            return False
        try:
            return graphql(port, query, {"s": selector}, timeout=10)["repositoryOrError"]["__typename"] == "Repository"
        except (OSError, AssertionError):
            return False

    wait_for(loaded, timeout, interval=2, what=f"dagster dev on port {port} with its code location loaded",
             abort=lambda: server.process.poll() is not None and server.tail())


def write_runner(root: Path, schedules: list[str], owner: str = "dagster", concurrency_per_tenant: int = 1) -> Path:
    """configs/runner.yaml of a generated test project; `schedules` are ready-made YAML list entries."""
    runner = root / "configs" / "runner.yaml"
    runner.parent.mkdir(parents=True, exist_ok=True)
    runner.write_text(f"runner:\n  orchestrator:\n    type: {owner}\n    concurrency_per_tenant: {concurrency_per_tenant}\n"
                      "    schedules:\n" + "\n".join(schedules) + "\n")
    return runner
