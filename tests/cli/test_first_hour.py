"""The README's "first hour" block runs as written (all but its long-running last line), and its pyiceberg read
of the embedded catalog works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.servers import base_env

DATIVO = str(Path(sys.executable).parent / "dativo")


def _block(heading: str, language: str) -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split(heading, 1)[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_first_hour_commands_run_as_written(tmp_path):
    block = _block("## The first hour", "bash")
    lines = [line for line in block.splitlines() if line.strip()]
    assert "keeps running" in lines[-1]
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the checkout's venv, as in the README
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")  # dg's project settings
    script = "set -euo pipefail\n" + "\n".join(f"echo '>>> {i}'\n{line}" for i, line in enumerate(lines[:-1])) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=base_env(DAGSTER_HOME=str(tmp_path / "dagster")), stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = {int(m.group(1)): m.group(2) for m in re.finditer(r">>> (\d+)\n(.*?)(?=>>> \d+\n|\Z)", done.stdout, re.S)}
    step = {name: next(i for i, line in enumerate(lines) if line.startswith(name)) for name in
            ("dativo validate", "dativo preview", "dativo run --config first-hour/jobs/shop/orders", "dativo show",
             "dg list defs", "dativo run --config first-hour/jobs/shop/sqlite")}
    assert "OK: 1 schedule(s)" in out[step["dativo validate"]]
    assert out[step["dativo preview"]].count("│") > 10 and "orders: schema" in out[step["dativo preview"]]
    assert "shop/orders: success" in out[step["dativo run --config first-hour/jobs/shop/orders"]]
    assert "shop.orders: 3 rows" in out[step["dativo show"]]
    assert "shop_orders_hourly" in out[step["dg list defs"]] and "shop__sqlite_job" in out[step["dg list defs"]]
    assert "shop/sqlite: success, 3 rows" in out[step["dativo run --config first-hour/jobs/shop/sqlite"]]


def test_readme_pyiceberg_read(example_project):
    assert subprocess.run([DATIVO, "sample-data"], cwd=example_project, capture_output=True).returncode == 0
    assert subprocess.run([DATIVO, "run", "--config", "jobs/acme/orders.yaml"], cwd=example_project,
                          capture_output=True).returncode == 0
    code = _block("Read a table with pyiceberg", "python")
    assert len(code.strip().splitlines()) == 3
    done = subprocess.run([sys.executable, "-c", code], cwd=example_project, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "300"  # the example's 300 orders
