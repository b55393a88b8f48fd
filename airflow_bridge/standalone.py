"""Start Airflow 3 standalone (and, when ownership is split, `dagster dev`) on a dativo project.

Used by `dativo airflow standalone` (`make airflow`) and `dativo start orchestrated`. Everything is
project-local: AIRFLOW_HOME and DAGSTER_HOME live under DATIVO_HOME.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dativo_defs.config.paths import dativo_home

DAGS_FOLDER = Path(__file__).resolve().parent / "dags_folder"
PLUGINS_FOLDER = Path(__file__).resolve().parent / "plugins_folder"  # registers dativo's timetable (plugin.py)
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_env(port: int = 8080, home: Path | None = None) -> dict[str, str]:
    """Environment for every airflow command of this project (FACTS: the venv's bin must be on PATH; on a
    non-default port the execution API URL must follow it)."""
    home = home or dativo_home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # Free ports for the worker/triggerer log servers (defaults 8793/8794), so two Airflows can share a machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": os.environ.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                                                                   str(_free_port())),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": os.environ.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
                                                                    str(_free_port())),
    }


def prepare(env: dict[str, str]) -> None:
    """Compile the DAG manifest (unless current), migrate the metadata DB and create the tenant pools before
    anything is parsed or scheduled."""
    subprocess.run([str(VENV_BIN / "dativo"), "airflow", "compile", "--if-stale"], env=env, check=True)
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(VENV_BIN / "dativo"), "airflow", "sync-pools"], env=env, check=True)


def standalone(port: int = 8080) -> subprocess.Popen:
    env = airflow_env(port)
    prepare(env)
    return subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=env)


def login_hint(port: int) -> str:
    passwords = Path(airflow_env(port)["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    return (f"Airflow UI: http://127.0.0.1:{port}  — log in as 'admin' with the password in {passwords} "
            "(written by airflow standalone on first start)")
