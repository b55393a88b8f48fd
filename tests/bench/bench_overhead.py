"""Per-run overhead of the orchestrators for a trivial job (a 10-row CSV -> Iceberg on the embedded catalog),
side by side in the same run:

  direct   `dativo_defs.engine.runner.run_job(load_job(path))`
  dagster  `dagster.materialize([assets_for_job_file(path)], instance=DagsterInstance.ephemeral())`
  airflow  the real Airflow task execution of the DAG airflow_bridge renders for that job (`in_process` mode):
           `airflow tasks test <dag_id> <task_id>` (and `airflow dags test <dag_id>`), in an isolated
           AIRFLOW_HOME (tmp, sqlite, `airflow db migrate` once, the tenant pool created, a dags folder with
           `from airflow_bridge.dags import *`)

Two measurements:
  (a) warm, in one process: each call once to warm up, then the median of --warm-calls calls of each
      (interleaved; every call appends 10 rows to the same table) -> Dagster overhead = dagster - direct;
  (b) fresh process, wall time seen by this process: `python -c` running direct, `python -c` running dagster,
      the airflow CLI command (median of --repeat) -> overhead = path - direct.
The Airflow runs are split into phases from the timestamps of Airflow's own log lines, and a few fresh-process
reference points (`python -c pass`, `import airflow`, `airflow version`, the in-process execution API start-up)
say where its time goes. The manifest is made warm before every Airflow run (Airflow's steady state); a run
during which it was rebuilt (dativo's code or configs changed meanwhile) is reported as such. Wall times are
sensitive to other load on the machine: the load average and each fresh process's CPU time are reported too.

The test commands start Airflow's execution API inside the process for every run, which a deployment does once.
So, unless --no-deployment, the same DAG also runs --repeat times in a warm `airflow standalone` (LocalExecutor,
on a free port, after one warm-up run): trigger -> success as seen over REST, and Airflow's own durations.

Usage: python -m tests.bench.bench_overhead [--warm-calls 5] [--repeat 3] [--no-deployment] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "bench_tiny"
TASK_ID = "bench__tiny"  # the op name of tenant `bench`, job `tiny` (asserted against the manifest)
GOALS = {"airflow_overhead_s": 1.0, "dagster_overhead_s": 0.5}

JOB = """tenant_id: bench
source: {type: csv, files: [{path: data/rows.csv, object: rows}]}
target: {type: iceberg}
logging: {level: WARNING}
"""
RUNNER = f"""runner:
  orchestrator:
    type: dagster
    schedules:
      - {{name: {DAG_ID}, config: ../jobs/bench/tiny.yaml, interval_seconds: 60, orchestrator: airflow}}
"""

DIRECT = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
t1 = time.perf_counter()
result = run_job(load_job(Path(sys.argv[1])))
assert result.status.value == "success" and result.rows_written == 10, result.error
print("BENCH", t1 - t0, time.perf_counter() - t1)
"""

DAGSTER = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from dagster import DagsterInstance, materialize
from dativo_defs.assets import assets_for_job_file
t1 = time.perf_counter()
result = materialize([assets_for_job_file(Path(sys.argv[1]))], instance=DagsterInstance.ephemeral())
assert result.success
print("BENCH", t1 - t0, time.perf_counter() - t1)
"""

WARM = """
import json, statistics, sys, time
from pathlib import Path
from dagster import DagsterInstance, materialize
from dativo_defs.config.loader import load_job
from dativo_defs.assets import assets_for_job_file
from dativo_defs.engine.runner import run_job
path, calls = Path(sys.argv[1]), int(sys.argv[2])

def direct():
    result = run_job(load_job(path))
    assert result.status.value == "success" and result.rows_written == 10, result.error

def dagster():
    with DagsterInstance.ephemeral() as instance:
        assert materialize([assets_for_job_file(path)], instance=instance).success

def timed(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start

first = {"direct": timed(direct), "dagster": timed(dagster)}
runs = {"direct": [], "dagster": []}
for _ in range(calls):
    runs["direct"].append(timed(direct)); runs["dagster"].append(timed(dagster))
print("BENCH " + json.dumps({"first": first, "runs": runs}))
"""

EXEC_API = """
import time
t0 = time.perf_counter()
import httpx
from airflow.sdk.execution_time.supervisor import in_process_api_server
t1 = time.perf_counter()
api = in_process_api_server(); api.app
t2 = time.perf_counter()
client = httpx.Client(transport=api.transport, base_url="http://in-process.invalid/execution/")
client.get("health")
t3 = time.perf_counter()
client.get("health")
t4 = time.perf_counter()
print("BENCH", t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""

# Airflow's own log lines that open each phase of `airflow tasks test` / `airflow dags test` (first occurrence
# after the previous marker). Phase i runs from marker i to marker i+1; the process start and exit bound them.
PHASES = [
    ("process start, import airflow, CLI and config", None),
    ("DAG bundle and DagBag set-up", "DAG bundles loaded"),
    ("DAG parse (import airflow_bridge.dags)", "Filling up the DagBag"),
    ("DB: sync DAG, create DAG run and task instance", "Bulk-writing dags to db"),
    ("in-process execution API start-up + first call (test commands only)", "[DAG TEST] running task"),
    ("task start (state, rendered fields)", "Task started"),
    ("task callable: run_task -> dagster.materialize (imports included)", "Updating RenderedTaskInstanceFields"),
    ("post-execute: XCom, final state", "Done. Returned value was"),
    ("DAG run bookkeeping, logging shutdown, interpreter exit", "[DAG TEST] end task"),
]
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z \[\s*\w+\s*\] (.*)$")


def airflow_cli() -> list[str]:
    script = Path(sys.executable).parent / "airflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def make_project(root: Path) -> dict[str, str]:
    data = root / "jobs" / "bench" / "data"
    data.mkdir(parents=True)
    (data / "rows.csv").write_text("id,name,amount,updated_at\n" + "".join(
        f"{i},name{i},{i}.5,2026-01-01T00:00:{i:02d}\n" for i in range(1, 11)))
    (root / "jobs" / "bench" / "tiny.yaml").write_text(JOB)
    (root / "configs").mkdir()
    (root / "configs" / "runner.yaml").write_text(RUNNER)
    (root / "dags").mkdir()
    (root / "dags" / "dativo_dags.py").write_text("from airflow_bridge.dags import *  # noqa: F401,F403\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATIVO_", "DAGSTER_HOME"))}
    env.update({
        "PYTHONPATH": str(REPO), "DATIVO_RUNNER_CONFIG": str(root / "configs" / "runner.yaml"),
        "DATIVO_HOME": str(root / "home"), "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict[str, str], check: bool = True) -> tuple[float, float, float, str, float]:
    """Run cmd; return (wall seconds, start epoch, end epoch, combined output, CPU seconds of the child)."""
    cpu, start_epoch, start = _children_cpu(), time.time(), time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, end_epoch = time.perf_counter() - start, time.time()
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {out.returncode}:\n{out.stdout[-3000:]}")
    return wall, start_epoch, end_epoch, out.stdout, _children_cpu() - cpu


def bench_line(output: str) -> list[str]:
    return next(line for line in reversed(output.splitlines()) if line.startswith("BENCH ")).split(" ", 1)[1].split()


def manifest_file(env: dict[str, str]) -> Path:
    found = sorted((Path(env["DATIVO_HOME"]) / "airflow").glob("manifest-*.json"))
    assert len(found) == 1, found
    return found[0]


def ensure_warm_manifest(env: dict[str, str]) -> int:
    """Rebuild the manifest now if anything changed (untimed); return its mtime to detect a rebuild later."""
    run([sys.executable, "-c", "from airflow_bridge.cache import load_manifest; load_manifest()"], env)
    return manifest_file(env).stat().st_mtime_ns


def phases(output: str, start_epoch: float, end_epoch: float) -> list[dict]:
    stamps = []
    for line in output.splitlines():
        match = _STAMP.match(line)
        if match:
            stamps.append((datetime.fromisoformat(match.group(1) + "+00:00").timestamp(), match.group(2)))
    points, index = [start_epoch], 0
    for _, marker in PHASES[1:]:
        found = next((i for i in range(index, len(stamps)) if stamps[i][1].startswith(marker)), None)
        if found is None:
            points.append(None)
            continue
        points.append(stamps[found][0])
        index = found + 1
    points.append(end_epoch)
    result, label_start = [], 0
    for i in range(1, len(points)):  # a missing marker folds its phase into the previous one
        if points[i] is None:
            continue
        previous = next(p for p in reversed(points[:i]) if p is not None)
        label = " + ".join(PHASES[j][0] for j in range(label_start, i))
        result.append({"phase": label, "seconds": round(points[i] - previous, 3)})
        label_start = i
    return result


def airflow_run(args: list[str], env: dict[str, str]) -> dict:
    mtime = ensure_warm_manifest(env)
    wall, start, end, output, cpu = run(airflow_cli() + args, env)
    assert "'rows_written': 10" in output, output[-3000:]
    return {"wall_s": wall, "cpu_s": cpu, "manifest_rebuilt": manifest_file(env).stat().st_mtime_ns != mtime,
            "phases": phases(output, start, end)}


def python_run(code: str, job: Path, env: dict[str, str]) -> dict:
    wall, _, _, output, cpu = run([sys.executable, "-c", code, str(job)], env)
    imports, call = map(float, bench_line(output))
    return {"wall_s": wall, "cpu_s": cpu, "imports_s": imports, "call_s": call}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http(method: str, url: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _seconds(later: str | None, earlier: str | None) -> float | None:
    if not later or not earlier:
        return None
    return round(datetime.fromisoformat(later).timestamp() - datetime.fromisoformat(earlier).timestamp(), 3)


def task_log_phases(path: Path) -> dict:
    """Phases of one task attempt from its JSON log (the forked task process of a LocalExecutor worker)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    stamp = [datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp() for line in lines]
    event = [str(line.get("event", "")) for line in lines]

    def first(prefix: str) -> int | None:
        return next((i for i in range(len(lines)) if event[i].startswith(prefix)), None)

    parsed = first("Worker startup parse complete")
    body = first("::endgroup::")
    dagster = next((i for i in range(body or 0, len(lines)) if "RUN_START" in event[i]), None)
    done = first("Done. Returned value was")
    if None in (parsed, body, dagster, done):
        return {}
    return {"dag_file_parse_s": lines[parsed].get("dag_file_parse_ms", 0) / 1000,
            "pre_execute_s": round(stamp[body] - stamp[0], 3),
            "callable_until_dagster_run_start_s": round(stamp[dagster] - stamp[body], 3),
            "callable_dagster_run_s": round(stamp[done] - stamp[dagster], 3),
            "post_execute_s": round(stamp[-1] - stamp[done], 3),
            "stderr_lines_logged_as_error": sum(line.get("level") == "error" for line in lines)}


def deployment(env: dict[str, str], root: Path, repeat: int) -> dict:
    """Warm `airflow standalone`: one warm-up run, then `repeat` triggered runs one after the other."""
    port = _free_port()
    env = {**env, "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__HOST": "127.0.0.1",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
           # free log-server ports too: the defaults (8793/8794) collide with any other Airflow on the machine
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
           "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port())}
    base = f"http://127.0.0.1:{port}"
    log = (root / "standalone.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(airflow_cli() + ["standalone"], env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - started > 90:
                raise RuntimeError(f"airflow standalone did not become healthy; see {root / 'standalone.log'}")
            try:
                health = _http("GET", f"{base}/api/v2/monitor/health")
                if health.get("scheduler", {}).get("status") == "healthy":
                    break
            except OSError:
                pass
            time.sleep(0.5)
        healthy_after = time.perf_counter() - started
        passwords = json.loads((Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text())
        user, password = next(iter(passwords.items()))
        token = _http("POST", f"{base}/auth/token", {"username": user, "password": password})["access_token"]
        runs = []
        for index in range(repeat + 1):  # the first one warms the worker up
            while any(r["state"] in ("queued", "running") for r in _http(
                    "GET", f"{base}/api/v2/dags/{DAG_ID}/dagRuns?limit=100", token=token)["dag_runs"]):
                time.sleep(0.1)  # e.g. the interval schedule's own first run
            trigger = time.perf_counter()
            run_id = _http("POST", f"{base}/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None}, token)["dag_run_id"]
            while True:
                dag_run = _http("GET", f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token=token)
                if dag_run["state"] in ("success", "failed"):
                    break
                if time.perf_counter() - trigger > 120:
                    raise RuntimeError(f"run {run_id} still {dag_run['state']} after 120 s")
                time.sleep(0.05)
            seen = time.perf_counter() - trigger
            ti = _http("GET", f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", token=token)[
                "task_instances"][0]
            assert dag_run["state"] == "success", (dag_run, ti)
            task_log = (Path(env["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
                        / f"task_id={TASK_ID}" / f"attempt={ti['try_number']}.log")
            runs.append({"trigger_to_success_seen_s": round(seen, 3),
                         "run_queued_to_start_s": _seconds(dag_run["start_date"], dag_run["queued_at"]),
                         "ti_queued_to_start_s": _seconds(ti["start_date"], ti["queued_when"]),
                         "ti_duration_s": round(ti["duration"], 3),
                         "run_start_to_end_s": _seconds(dag_run["end_date"], dag_run["start_date"]),
                         "task_log": task_log_phases(task_log) if task_log.exists() else {}})
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    measured = runs[1:]
    return {"healthy_after_s": round(healthy_after, 1), "warm_up_run": runs[0], "runs": measured,
            **{f"median_{k}": round(statistics.median(r[k] for r in measured), 3)
               for k in measured[0] if k != "task_log"},
            "median_task_log": {k: round(statistics.median(r["task_log"][k] for r in measured), 3)
                                for k in measured[0]["task_log"] if all(r["task_log"] for r in measured)}}


def median_of(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm-calls", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-deployment", action="store_true", help="skip the warm `airflow standalone` runs")
    parser.add_argument("--keep", type=Path, help="build the project here and keep it (default: a temp dir)")
    args = parser.parse_args()
    started, load_before = time.perf_counter(), os.getloadavg()
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load_before[0]:.2f} on {os.cpu_count()} CPUs: wall times will be inflated",
              file=sys.stderr)
    root = Path(args.keep or tempfile.mkdtemp(prefix="dativo-overhead-"))
    if args.keep and root.exists():
        shutil.rmtree(root)
    try:
        env = make_project(root)
        job = root / "jobs" / "bench" / "tiny.yaml"

        # (a) warm, in one process
        output = run([sys.executable, "-c", WARM, str(job), str(args.warm_calls)], env)[3]
        warm_raw = json.loads(output.rsplit("BENCH ", 1)[1])
        warm = {name: {"median_s": round(statistics.median(values), 4), "min_s": round(min(values), 4),
                       "first_call_s": round(warm_raw["first"][name], 4), "calls": len(values)}
                for name, values in warm_raw["runs"].items()}
        warm["dagster_overhead_s"] = round(warm["dagster"]["median_s"] - warm["direct"]["median_s"], 4)

        # Airflow set-up (untimed): DB, the tenant pool, the DAG serialized and the manifest built
        run(airflow_cli() + ["db", "migrate"], env)
        run(airflow_cli() + ["pools", "set", "dativo_tenant_bench", "1", "bench"], env)
        run(airflow_cli() + ["dags", "reserialize"], env)
        dag = next(d for d in json.loads(manifest_file(env).read_text())["dags"] if d["dag_id"] == DAG_ID)
        assert [t["task_id"] for t in dag["tasks"]] == [TASK_ID] and not dag["paused"], dag

        # (b) fresh processes, interleaved
        fresh: dict[str, list[dict]] = {"direct": [], "dagster": [], "airflow_tasks_test": [], "airflow_dags_test": []}
        for _ in range(args.repeat):
            fresh["direct"].append(python_run(DIRECT, job, env))
            fresh["dagster"].append(python_run(DAGSTER, job, env))
            fresh["airflow_tasks_test"].append(airflow_run(["tasks", "test", DAG_ID, TASK_ID], env))
            fresh["airflow_dags_test"].append(airflow_run(["dags", "test", DAG_ID], env))
        whole = {}
        for name, runs in fresh.items():
            whole[name] = {"median_s": median_of(runs, "wall_s"), "runs": [round(r["wall_s"], 3) for r in runs],
                           "median_cpu_s": median_of(runs, "cpu_s")}
            if "imports_s" in runs[0]:
                whole[name].update(imports_s=median_of(runs, "imports_s"), call_s=median_of(runs, "call_s"))
            if "phases" in runs[0]:
                median_run = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
                whole[name]["phases_of_median_run"] = median_run["phases"]
                whole[name]["manifest_rebuilt_runs"] = sum(r["manifest_rebuilt"] for r in runs)
        direct = whole["direct"]["median_s"]
        whole["dagster_overhead_s"] = round(whole["dagster"]["median_s"] - direct, 3)
        whole["airflow_overhead_s"] = round(whole["airflow_tasks_test"]["median_s"] - direct, 3)
        whole["airflow_dags_test_overhead_s"] = round(whole["airflow_dags_test"]["median_s"] - direct, 3)
        direct_cpu = whole["direct"]["median_cpu_s"]
        whole["cpu_overhead_s"] = {name: round(whole[name]["median_cpu_s"] - direct_cpu, 3)
                                   for name in ("dagster", "airflow_tasks_test", "airflow_dags_test")}

        # where Airflow's time goes: fresh-process reference points
        ensure_warm_manifest(env)
        refs = {"python_c_pass_s": run([sys.executable, "-c", "pass"], env)[0],
                "python_c_import_airflow_s": run([sys.executable, "-c", "import airflow"], env)[0],
                "python_c_import_airflow_sdk_and_bridge_dags_s":
                    run([sys.executable, "-c", "import airflow.sdk, airflow_bridge.dags"], env)[0],
                "airflow_version_cli_s": run(airflow_cli() + ["version"], env)[0]}
        api = list(map(float, bench_line(run([sys.executable, "-c", EXEC_API], env)[3])))
        refs["in_process_execution_api"] = {"import_s": api[0], "build_app_s": api[1],
                                            "first_request_s": api[2], "second_request_s": api[3]}
        refs = json.loads(json.dumps(refs), parse_float=lambda v: round(float(v), 3))

        deployed = None if args.no_deployment else deployment(env, root, args.repeat)
        if deployed:
            deployed["ti_duration_minus_direct_s"] = round(deployed["median_ti_duration_s"] - direct, 3)
            deployed["trigger_to_success_minus_direct_s"] = round(
                deployed["median_trigger_to_success_seen_s"] - direct, 3)
        report = {
            "job": "csv (10 rows) -> iceberg, embedded SQL catalog",
            "goals": GOALS,
            "warm_in_process": warm,
            "fresh_process": whole,
            "airflow_reference_points": refs,
            "airflow_deployment": deployed,
            "meets_goals": {
                "dagster_warm": warm["dagster_overhead_s"] <= GOALS["dagster_overhead_s"],
                "dagster_fresh": whole["dagster_overhead_s"] <= GOALS["dagster_overhead_s"],
                "airflow_fresh_tasks_test": whole["airflow_overhead_s"] <= GOALS["airflow_overhead_s"],
                **({"airflow_deployment_task_duration": deployed["ti_duration_minus_direct_s"]
                    <= GOALS["airflow_overhead_s"],
                    "airflow_deployment_trigger_to_success": deployed["trigger_to_success_minus_direct_s"]
                    <= GOALS["airflow_overhead_s"]} if deployed else {}),
            },
            "load_average_1m": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
            "cpus": os.cpu_count(),
            "bench_seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
