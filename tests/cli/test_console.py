"""`dativo run` output: a progress line per object and a summary table on a terminal, JSON lines otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.tty import run_on_tty

DATIVO = str(Path(sys.executable).parent / "dativo")


def _project(example_project: Path) -> Path:
    subprocess.run([DATIVO, "sample-data"], cwd=example_project, check=True, capture_output=True)
    return example_project


def test_terminal_shows_progress_and_summary_table(example_project):
    project = _project(example_project)
    code, screen = run_on_tty([DATIVO, "run", "--config", "jobs/acme/orders.yaml"], cwd=project)
    assert code == 0, screen
    progress = [line for line in screen.splitlines() if "rows/s" in line]
    assert progress and any(line.split()[0:2] == ["✓", "orders"] or "orders ✓" in line for line in progress), screen
    assert any("300 rows" in line for line in progress), screen  # the sample CSVs hold 300 orders
    header = next(line for line in screen.splitlines() if "object" in line and "cursor" in line)
    assert all(name in header for name in ("rows", "bytes", "snapshot", "duration")), header
    row = next(line for line in screen.splitlines() if "acme.orders" in line)
    assert "300" in row and "→" in row
    assert "acme/orders: success, 300 rows" in screen
    assert '"event_type"' not in screen  # no JSON lines for a person


def test_quiet_terminal_prints_only_the_final_line(example_project):
    project = _project(example_project)
    code, screen = run_on_tty([DATIVO, "run", "--config", "jobs/acme/orders.yaml", "--quiet"], cwd=project)
    assert code == 0, screen
    assert "rows/s" not in screen and "snapshot" not in screen
    assert [line for line in screen.splitlines() if line.strip()] == [
        next(line for line in screen.splitlines() if line.startswith("acme/orders: success, 300 rows"))]


def test_not_a_terminal_prints_json_lines(example_project):
    project = _project(example_project)
    done = subprocess.run([DATIVO, "run", "--config", "jobs/acme/orders.yaml"], cwd=project, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    assert [e["event_type"] for e in events] == ["job_started", "commit", "job_finished"]
    assert events[1]["rows"] == 300 and events[1]["object"] == "orders"
    assert "rows/s" not in done.stdout + done.stderr


def test_verbose_json_includes_debug_batches(example_project):
    project = _project(example_project)
    done = subprocess.run([DATIVO, "run", "--config", "jobs/acme/orders.yaml", "-v", "--log-format", "json"],
                          cwd=project, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    batches = [e for e in events if e["event_type"] == "batch_written"]
    assert batches and sum(e["rows"] for e in batches) == 300 and {e["level"] for e in batches} == {"DEBUG"}


def test_console_failure_shows_error_and_hint(example_project):
    project = _project(example_project)
    job = project / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace("data/orders*.csv", "data/missing*.csv"))
    code, screen = run_on_tty([DATIVO, "run", "--config", "jobs/acme/orders.yaml"], cwd=project)
    assert code == 2, screen
    assert "acme/orders: failed" in screen and "permanent error:" in screen and "missing" in screen
    assert "Traceback" not in screen
