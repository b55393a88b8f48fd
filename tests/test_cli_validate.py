"""`dativo validate` on the example project and on a copy with broken files (real subprocess, real exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DATIVO = str(Path(sys.executable).parent / "dativo")


def _validate(runner: Path | None = None, env_runner: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_RUNNER_CONFIG", "DATIVO_HOME")}
    if env_runner:
        env["DATIVO_RUNNER_CONFIG"] = str(env_runner)
    args = [DATIVO, "validate"] + (["--runner-config", str(runner)] if runner else [])
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO)


def test_examples_are_valid():
    result = _validate()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["schedule", "tenant", "source", "->", "target", "cadence", "timezone", "owner", "enabled"]
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert len(rows) == 7
    assert rows["acme/orders_rebuild"].split()[-4:] == ["manual", "-", "any", "-"]  # matched by `runner.jobs`
    assert "Europe/Berlin" in rows["acme_orders_hourly"] and "cron 5 * * * *" in rows["acme_orders_hourly"]
    assert "every 900s" in rows["globex_events"]
    assert rows["globex_catalog_daily"].split()[-2:] == ["airflow", "yes"]
    assert rows["initech_invoices_nightly"].split()[-1] == "no"
    tenants = {line.split()[1] for line in rows.values()}
    assert result.stdout.splitlines()[-1].startswith("OK: 6 schedule(s) and 1 job(s) for manual runs valid")
    assert tenants == {"acme", "globex", "initech"}


def test_one_broken_job_is_named_and_does_not_hide_the_others(example_project):
    broken = example_project / "jobs/globex/events.yaml"
    broken.write_text(broken.read_text().replace("schema_validation_mode: warn", "schema_validation_mode: lenient"))
    result = _validate(env_runner=example_project / "configs/runner.yaml")
    assert result.returncode == 2
    line = broken.read_text().splitlines().index("schema_validation_mode: lenient") + 1
    assert f"{broken}:{line}: schema_validation_mode: Input should be 'strict' or 'warn' (got 'lenient')" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    listed = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert listed == {"acme_orders_hourly", "acme_customers", "globex_catalog_daily", "initech_tickets",
                      "initech_invoices_nightly", "acme/orders_rebuild"}
    assert "1 schedule(s) not loaded: globex_events" in result.stderr


def test_runner_config_option_and_env_var_select_the_project(example_project, tmp_path):
    runner = example_project / "configs/runner.yaml"
    assert _validate(runner=runner).returncode == 0
    assert _validate(env_runner=runner).returncode == 0
    missing = _validate(runner=tmp_path / "nope.yaml")
    assert missing.returncode == 2 and "nope.yaml: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_local_glob_matching_nothing_is_a_warning(example_project):
    orders = example_project / "jobs/acme/orders.yaml"
    orders.write_text(orders.read_text().replace("path: data/orders*.csv", "path: dta/orders*.csv"))
    result = _validate(env_runner=example_project / "configs/runner.yaml")
    assert result.returncode == 0, result.stderr
    assert f"WARNING {orders}: source.files[0].path 'dta/orders*.csv' matches no file now" in result.stderr
    assert "globex" not in result.stderr  # the matching globs are not reported


def test_an_interval_off_dagsters_sensor_granularity_is_rounded_with_a_warning(example_project, dativo_home):
    runner = example_project / "configs/runner.yaml"
    text = runner.read_text()
    assert "interval_seconds: 900" in text  # the example sensor (globex_events)
    runner.write_text(text.replace("interval_seconds: 900", "interval_seconds: 7"))
    result = _validate(env_runner=runner)
    assert result.returncode == 0, result.stderr
    assert (f"WARNING {runner}: schedule 'globex_events': interval_seconds 7 is not a multiple of Dagster's 5 s "
            "sensor loop: both orchestrators run it every 10 s") in result.stderr
    env = {**os.environ, "DATIVO_RUNNER_CONFIG": str(runner), "DATIVO_HOME": str(dativo_home)}
    explain = subprocess.run([DATIVO, "explain"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert explain.returncode == 0, explain.stdout[-2000:] + explain.stderr[-2000:]
    rows = [line.split() for line in explain.stdout.splitlines() if line.startswith("globex_events")]
    assert ["globex_events", "effective", "interval", "every", "10s", "every", "10s", "ok"] in rows
