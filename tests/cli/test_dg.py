"""`dg` works from the repo root: `dg check defs` and `dg list defs` load the example's code location, with no
SupersessionWarning (`dg dev` is exercised by the `make dev` test)."""

from __future__ import annotations

import subprocess

from tests.conftest import REPO
from tests.e2e.servers import VENV_BIN, base_env


def _dg(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = base_env(DAGSTER_HOME=str(home), DATIVO_HOME=str(tmp_path / "home"))
    return subprocess.run([str(VENV_BIN / "dg"), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_dg_check_and_list_defs_from_the_repo_root(tmp_path):
    checked = _dg(tmp_path, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg(tmp_path, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    for name in ("acme_orders_hourly", "globex_events", "acme__orders_rebuild_job"):
        assert name in listed.stdout, name
    for out in (checked, listed):
        assert "SupersessionWarning" not in out.stdout + out.stderr
        assert "does not match the virtual environment" not in out.stdout + out.stderr
