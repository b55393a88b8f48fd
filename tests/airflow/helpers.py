"""Shared helpers: an isolated Airflow + dativo environment in a temp dir, and Airflow run in subprocesses.

Airflow reads its configuration when `airflow` is first imported, so everything that imports Airflow runs in a
fresh subprocess with its own AIRFLOW_HOME; the test process itself never imports Airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.servers import base_env

DAGS_FILE = "from airflow_bridge.dags import *  # noqa\n"


@dataclass
class AirflowEnv:
    root: Path
    project: Path  # copy of configs/ + jobs/
    airflow_home: Path
    dags_folder: Path
    dativo_home: Path
    code_snapshot: Path | None = None  # see snapshot_code()

    @property
    def runner(self) -> Path:
        return self.project / "configs" / "runner.yaml"

    def env(self, **extra: str) -> dict[str, str]:
        if self.code_snapshot:
            extra = {"PYTHONPATH": f"{self.code_snapshot}{os.pathsep}{REPO}", **extra}
        return base_env(AIRFLOW_HOME=str(self.airflow_home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                        AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder), DATIVO_RUNNER_CONFIG=str(self.runner),
                        DATIVO_HOME=str(self.dativo_home), **extra)

    def python(self, code: str, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        """Run `code` (with sys.argv[1:] = args) in a fresh interpreter with this environment."""
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=self.env(**extra),
                              cwd=self.root, capture_output=True, text=True, timeout=timeout)

    def json_from(self, code: str, *args: str, timeout: float = 120, **extra: str):
        """Run `code`, which prints one JSON document as its last stdout line, and return it."""
        proc = self.python(code, *args, timeout=timeout, **extra)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def dativo(self, *args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess:
        """The `dativo` CLI with this environment, e.g. `dativo("airflow", "compile")` (the deploy step)."""
        return subprocess.run([str(Path(sys.executable).parent / "dativo"), *args], env=self.env(**extra),
                              cwd=self.root, capture_output=True, text=True, timeout=timeout)

    def airflow(self, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=self.env(**extra),
                              cwd=self.root, capture_output=True, text=True, timeout=timeout)


def make_airflow_env(root: Path) -> AirflowEnv:
    """A copy of the example project plus an empty AIRFLOW_HOME, DATIVO_HOME and a one-file dags folder."""
    project = root / "project"
    for folder in ("configs", "jobs"):
        shutil.copytree(REPO / folder, project / folder)
    env = AirflowEnv(root=root, project=project, airflow_home=root / "airflow_home", dags_folder=root / "dags",
                     dativo_home=root / "dativo_home")
    for folder in (env.airflow_home, env.dags_folder, env.dativo_home):
        folder.mkdir(parents=True, exist_ok=True)
    (env.dags_folder / "dativo_dags.py").write_text(DAGS_FILE)
    return env


def snapshot_code(env: AirflowEnv) -> None:
    """Import airflow_bridge and dativo_defs from a private copy of their sources (ahead of the repo on PYTHONPATH).

    The manifest fingerprint covers dativo's own code, so an edit to the working tree while a test runs would
    (rightly) force a rebuild; a snapshot keeps cache tests about the inputs they change."""
    env.code_snapshot = env.root / "code"
    for package in ("airflow_bridge", "dativo_defs"):
        shutil.copytree(REPO / package, env.code_snapshot / package, ignore=shutil.ignore_patterns("__pycache__"))


def add_schedules(env: AirflowEnv, text: str) -> None:
    """Append schedule entries (YAML list items, indented like the runner file's) to the runner file."""
    with env.runner.open("a") as handle:
        handle.write(textwrap.indent(textwrap.dedent(text).strip("\n"), " " * 6) + "\n")


# Prints a JSON summary of what Airflow's own DagBag loads from the dags folder.
DAGBAG_SUMMARY = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

def seconds(delta):
    return None if delta is None else delta.total_seconds()

dags = {}
for dag in bag.dags.values():
    tt = dag.timetable
    dags[dag.dag_id] = dict(
        dag_id=dag.dag_id, timetable=type(tt).__name__, expression=getattr(tt, "cron", None),
        timezone=getattr(tt, "timezone_name", None),
        delta=seconds(getattr(tt, "delta", None)), is_paused_upon_creation=dag.is_paused_upon_creation,
        max_active_runs=dag.max_active_runs, catchup=dag.catchup, tags=sorted(dag.tags),
        description=dag.description, fileloc=dag.fileloc,
        tasks={t.task_id: dict(task_id=t.task_id, operator=type(t).__name__, pool=t.pool, pool_slots=t.pool_slots,
                               retries=t.retries, retry_delay=seconds(t.retry_delay),
                               retry_exponential_backoff=t.retry_exponential_backoff,
                               max_retry_delay=seconds(t.max_retry_delay), owner=t.owner,
                               retry_waits=[seconds(t.retry_policy.evaluate(RuntimeError(), n, t.retries + 1).retry_delay)
                                            for n in range(1, t.retries + 1)] if t.retry_policy else None,
                               upstream=sorted(t.upstream_task_ids))
               for t in dag.tasks},
    )
print(json.dumps(dict(import_errors=bag.import_errors, dags=dags, dagster_imported="dagster" in sys.modules)))
"""


# One parse of the dags file, printing the DAGs it renders. A real import hook makes importing dagster, the Dagster
# definitions or the compiler fail: a parse must only read the manifest (issue 15).
PARSE_DAGS = """
import json, sys

class NoCompileInTheParse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "dagster" or name in ("dativo_defs.definitions", "airflow_bridge.compile"):
            raise ImportError(f"the parse imported {name}: it must only read the manifest")
        return None

sys.meta_path.insert(0, NoCompileInTheParse())
import airflow_bridge.dags as dags
assert not sys.argv[1:] or dags.__file__.startswith(sys.argv[1]), dags.__file__
print(json.dumps({name: dict(tasks={t.task_id: t.retries for t in getattr(dags, name).tasks},
                             paused=getattr(dags, name).is_paused_upon_creation,
                             stale="dativo:stale-manifest" in getattr(dags, name).tags,
                             invalid="dativo:invalid" in getattr(dags, name).tags,
                             doc=getattr(dags, name).doc_md) for name in dags.__all__}))
"""


def compile_manifest(env: AirflowEnv, *args: str, expect: int = 0, **extra: str) -> str:
    """`dativo airflow compile ARGS` (the deploy step); its output."""
    proc = env.dativo("airflow", "compile", *args, **extra)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def parse_dags(env: AirflowEnv, **extra: str) -> tuple[dict, str]:
    """The DAGs one parse of the dags file renders (a fresh process, dagster made unimportable), and its log
    (all it printed: Airflow logs to stdout once imported)."""
    proc = env.python(PARSE_DAGS, *([str(env.code_snapshot)] if env.code_snapshot else []), timeout=90, **extra)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout + proc.stderr
