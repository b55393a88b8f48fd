"""The manifest's stamp sees paths that do not exist yet, and a DAG-file parse never hangs on hostile files.

Every parse of the dags file is a fresh process (as Airflow's parser is) with a timeout: a hang fails the test
instead of blocking the suite. The first parse of each project finds no manifest and compiles it in a
background process while it waits (parse.py); later ones only read it.
"""

from __future__ import annotations

import os

import pytest

from tests.airflow.helpers import AirflowEnv, compile_manifest, make_airflow_env, parse_dags, snapshot_code

ALL_DAGS = ["acme__orders_rebuild_job", "acme_customers", "acme_orders_hourly", "globex_catalog_daily",
            "globex_events", "initech_invoices_nightly", "initech_tickets"]


@pytest.fixture
def env(tmp_path) -> AirflowEnv:
    env = make_airflow_env(tmp_path)
    snapshot_code(env)
    return env


def _dags(env: AirflowEnv, **extra: str) -> tuple[list[str], bool]:
    """The DAG ids one parse serves, and whether it reported them stale."""
    dags, _ = parse_dags(env, **extra)
    return sorted(dags), any(d["stale"] for d in dags.values())


def test_creating_a_missing_contract_file_is_a_change(env):
    contract = env.project / "jobs/acme/contracts/orders.yaml"
    text = contract.read_text()
    contract.unlink()
    # both acme order jobs use that contract
    assert _dags(env) == ([d for d in ALL_DAGS if d not in ("acme_orders_hourly", "acme__orders_rebuild_job")], False)
    contract.write_text(text)
    assert f"created: {contract}" in compile_manifest(env, "--check", expect=1)
    compile_manifest(env)
    assert _dags(env) == (ALL_DAGS, False)


def test_creating_a_missing_job_file_is_a_change(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace("config: ../jobs/initech/tickets.yaml", "config: ../later/tickets.yaml"))
    manual = "initech__tickets_job"  # no schedule runs initech/tickets now: runner.jobs defines it for manual runs
    assert _dags(env) == (sorted([d for d in ALL_DAGS if d != "initech_tickets"] + [manual]), False)
    (env.project / "later").mkdir()  # outside the runner.jobs glob (../jobs/*/*.yaml): only the stamp sees it
    later = env.project / "later/tickets.yaml"
    later.write_text((env.project / "jobs/initech/tickets.yaml").read_text().replace("tenant_id: initech",
                                                                                     "tenant_id: later"))
    assert f"created: {later}" in compile_manifest(env, "--check", expect=1)
    compile_manifest(env)
    assert _dags(env) == (sorted(ALL_DAGS + [manual]), False)


def test_symlink_loops_under_a_recursive_jobs_glob_do_not_hang_the_parse(env):
    runner = env.runner.read_text()
    env.runner.write_text(runner.replace('jobs: ["../jobs/*/*.yaml"]', 'jobs: ["../jobs/**/*.yaml"]'))
    os.symlink("..", env.project / "jobs/acme/loop")
    os.symlink(str(env.project / "jobs"), env.project / "jobs/globex/data/again")
    assert _dags(env) == (ALL_DAGS, False)
    assert _dags(env) == (ALL_DAGS, False), "the stamp's walk is loop-safe too"


def test_a_job_file_replaced_by_a_fifo_does_not_block_the_parse(env):
    assert _dags(env) == (ALL_DAGS, False)  # the manifest exists; its stamp check now meets the FIFO
    tickets = env.project / "jobs/initech/tickets.yaml"
    tickets.unlink()
    os.mkfifo(tickets)
    assert _dags(env, DATIVO_AIRFLOW_AUTO_COMPILE="false") == (ALL_DAGS, True), "the last good DAGs, reported stale"
    compile_manifest(env)
    assert _dags(env) == ([d for d in ALL_DAGS if d != "initech_tickets"], False)
