"""A parse of the dags folder never builds the Dagster definitions (issue 15: at 5,000 jobs that takes longer than
Airflow's 30 s import timeout). `dativo airflow compile` writes the manifest; a parse reads it. When the inputs
changed since, the parse serves the last good DAGs, tagged, and names the change and the command to run.

Every parse is a fresh process (as Airflow's are) in which a real import hook makes importing dagster, the
Dagster definitions or the compiler fail: a parse that tried to compile would fail the test.
"""

from __future__ import annotations

import time

import pytest

from tests.airflow.helpers import AirflowEnv, add_schedules, compile_manifest, make_airflow_env, parse_dags, snapshot_code


@pytest.fixture
def env(tmp_path) -> AirflowEnv:
    env = make_airflow_env(tmp_path)
    snapshot_code(env)  # the stamp covers dativo's code: an edit to the working tree must not count as a change
    compile_manifest(env)
    return env


def _manifest(env: AirflowEnv):
    [path] = (env.dativo_home / "airflow").glob("manifest-*.json")
    return path


def test_a_current_manifest_is_only_read(env):
    before = _manifest(env).stat().st_mtime_ns
    dags, log = parse_dags(env)
    assert len(dags) == 7  # 6 schedules and the manual DAG of the unscheduled job
    assert not any(d["stale"] for d in dags.values()) and "is stale" not in log
    assert _manifest(env).stat().st_mtime_ns == before, "nothing recompiled"
    assert not list((env.dativo_home / "airflow").glob("*.compile.log")), "no background compile started"
    assert "current" in compile_manifest(env, "--check", SOME_UNRELATED_VARIABLE="x"), "a variable no config references"


def test_a_stale_manifest_serves_the_last_good_dags_and_names_the_change(env):
    job = env.project / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace("max_retries: 2", "max_retries: 4"))
    dags, log = parse_dags(env, DATIVO_AIRFLOW_AUTO_COMPILE="false")
    assert dags["acme_orders_hourly"]["tasks"] == {"acme__orders": 2}, "the last good DAGs, as compiled"
    assert len(dags) == 7 and all(d["stale"] for d in dags.values()), "every DAG carries the stale tag"
    assert f"changed: {job}" in dags["acme_orders_hourly"]["doc"]
    assert f"changed: {job}" in log and "`dativo airflow compile`" in log, log[-2000:]
    check = compile_manifest(env, "--check", expect=1)
    assert f"changed: {job}" in check
    compile_manifest(env)  # the deploy step
    dags, log = parse_dags(env)
    assert dags["acme_orders_hourly"]["tasks"] == {"acme__orders": 4}
    assert not any(d["stale"] for d in dags.values()) and "is stale" not in log


def test_a_stale_parse_starts_a_background_compile_a_later_parse_serves(env):
    add_schedules(env, """
        - name: acme_orders_nightly
          config: ../jobs/acme/orders.yaml
          cron: "0 1 * * *"
          orchestrator: airflow
    """)
    dags, log = parse_dags(env)
    assert "acme_orders_nightly" not in dags and f"changed: {env.runner}" in log
    assert "background compile was started" in log
    deadline = time.monotonic() + 90
    while env.dativo("airflow", "compile", "--check").returncode and time.monotonic() < deadline:
        time.sleep(1)
    dags, log = parse_dags(env)
    assert dags["acme_orders_nightly"] == {"tasks": {"acme__orders": 2}, "paused": False, "stale": False, "invalid": False,
                                           "doc": dags["acme_orders_nightly"]["doc"]}
    assert len(dags) == 8 and "is stale" not in log


def test_no_manifest_yet_and_no_time_to_wait(env):
    """First start without the deploy step, on a project too big to compile within the parse's wait: one
    placeholder DAG says what to run, and the background compile the parse started lands for the next parse."""
    _manifest(env).unlink()
    dags, log = parse_dags(env, DATIVO_AIRFLOW_COMPILE_WAIT="0")
    assert list(dags) == ["dativo_manifest_missing"] and "dativo airflow compile" in dags["dativo_manifest_missing"]["doc"]
    assert "no compiled manifest" in log
    deadline = time.monotonic() + 90
    while not list((env.dativo_home / "airflow").glob("manifest-*.json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    dags, _ = parse_dags(env)
    assert len(dags) == 7 and not any(d["stale"] for d in dags.values())


def test_an_unreadable_manifest_is_compiled_while_the_parse_waits(env):
    """No usable manifest: the parse starts the compile (another process) and waits up to
    DATIVO_AIRFLOW_COMPILE_WAIT for it, as on every first start of a small project."""
    _manifest(env).write_text("{not json")
    dags, log = parse_dags(env)
    assert len(dags) == 7 and "unreadable manifest" in log and "is stale" not in log
    assert "current" in compile_manifest(env, "--check")


@pytest.mark.parametrize("edit", ["variable", "runner", "contract", "new job file"])
def test_each_input_is_seen(env, edit):
    """Each kind of input the DAGs depend on makes the manifest stale, named in `compile --check`."""
    extra: dict[str, str] = {}
    if edit == "variable":  # a ${VAR} a job file references: set, changed, unset
        job = env.project / "jobs/acme/orders.yaml"
        job.write_text(job.read_text().replace("max_retries: 2", 'max_retries: "${DATIVO_TEST_RETRIES:-2}"'))
        compile_manifest(env, DATIVO_TEST_RETRIES="1")
        assert "current" in compile_manifest(env, "--check", DATIVO_TEST_RETRIES="1")
        expected = "environment: one of"
        extra = {"DATIVO_TEST_RETRIES": "5"}
        assert expected in compile_manifest(env, "--check", expect=1)  # unset is a change too
    elif edit == "runner":
        add_schedules(env, '- {name: acme_orders_nightly, config: ../jobs/acme/orders.yaml, cron: "0 1 * * *"}')
        expected = f"changed: {env.runner}"
    elif edit == "contract":
        contract = env.project / "jobs/acme/contracts/orders.yaml"
        contract.write_text(contract.read_text().replace('version: "1.0"', 'version: "1.1"'))
        expected = f"changed: {contract}"
    else:  # `runner.jobs: ["../jobs/*/*.yaml"]`: a job file added later appears without touching the runner
        new = env.project / "jobs/initech/refunds.yaml"
        new.write_text((env.project / "jobs/initech/tickets.yaml").read_text())
        expected = f"new match of {env.project / 'jobs'}/*/*.yaml: {new}"
    assert expected in compile_manifest(env, "--check", expect=1, **extra)
    compile_manifest(env, **extra)
    assert "current" in compile_manifest(env, "--check", **extra)
