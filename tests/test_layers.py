"""The layering rule: engine <- dativo_defs <- airflow_bridge, imports pointing one way only.

Checked with import-linter over the real packages, and the same contracts are shown to fail on a planted
violation (so this test can fail)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    return subprocess.run([str(exe), "--config", str(config), "--no-cache"], cwd=cwd, capture_output=True, text=True)


def test_repository_keeps_the_layers():
    result = _lint_imports(REPO, REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_a_planted_violation_is_caught(tmp_path):
    for package in ("dativo_defs", "dativo_defs/engine", "dativo_defs/config", "airflow_bridge"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "dativo_defs/engine/leak.py").write_text("import dagster\n")
    (tmp_path / "dativo_defs/bad.py").write_text("from airflow_bridge import x\n")
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    result = _lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert result.returncode != 0
    assert "dativo_defs.engine.leak -> dagster" in result.stdout
    assert "dativo_defs.bad -> airflow_bridge" in result.stdout
    assert "0 kept, 2 broken" in result.stdout
