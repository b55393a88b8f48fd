"""The bad-input corpus (tests/bad_inputs/cases.py) against a private copy of the example project.

For every case: (a) `dativo validate` exits 2 and an ERROR line names the file, the field path (where one
applies, with its line) and the problem — no traceback; (b) the schedules the case does not touch still load:
in Dagster (`build_definitions(load_project(runner))`, validated as a code location would be), in the Airflow
manifest (`rebuild_manifest()`) and as rendered Airflow DAGs. A case that makes the runner file unusable leaves
empty (but loadable) definitions.

Plus the runtime cases: a source whose data file has malformed rows makes `dativo run --config` exit 2
(permanent) with one clear line naming the file, never a traceback or a crash.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import Definitions

from airflow_bridge.cache import rebuild_manifest
from dativo_defs.cli import main
from dativo_defs.config.loader import load_project
from dativo_defs.contract import invalid_contract
from dativo_defs.definitions import build_definitions
from tests.bad_inputs.cases import ALL, CASES, Case

DATIVO = str(Path(sys.executable).parent / "dativo")
RUNTIME_DATA = Path(__file__).parent / "bad_inputs" / "runtime"
UNSET = "DATIVO_BAD_INPUT_UNSET"  # the variable the corpus references and expects to be unset


def _apply(case: Case, root: Path) -> None:
    path = root / case.file
    path.parent.mkdir(parents=True, exist_ok=True)
    if case.fifo:
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif case.edit is not None:
        old, new = case.edit
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{case.id}: {old!r} must occur exactly once in {case.file}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    elif isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        assert case.content is not None, f"{case.id}: give `content` or `edit`"
        path.write_text(case.content, encoding="utf-8")
    for extra, text in case.extra.items():
        (root / extra).parent.mkdir(parents=True, exist_ok=True)
        (root / extra).write_text(text, encoding="utf-8")
    for link, target in case.links.items():
        (root / link).symlink_to(target)


def _validate(root: Path, real_process: bool) -> tuple[int, str]:
    """(exit code, stdout + stderr) of `dativo validate` on the project copy."""
    runner = root / "configs" / "runner.yaml"
    if real_process:
        env = {**os.environ, "DATIVO_RUNNER_CONFIG": str(runner)}
        done = subprocess.run([DATIVO, "validate"], capture_output=True, text=True, env=env, cwd=root, timeout=120)
        return done.returncode, done.stdout + done.stderr
    result = CliRunner().invoke(main, ["validate"], env={"DATIVO_RUNNER_CONFIG": str(runner)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("validate raised:\n" + "".join(traceback.format_exception(result.exception)))
    return result.exit_code, result.output


def _loaded_everywhere(root: Path) -> set[str]:
    """Schedule names that load in Dagster; asserts the Airflow side agrees and renders every DAG."""
    from airflow_bridge.render import render_dag
    from airflow_bridge.settings import ExecutionMode

    project = load_project(root / "configs" / "runner.yaml")
    defs = build_definitions(project)
    Definitions.validate_loadable(defs)  # what loading the code location does: resolves jobs, assets, names
    placeholders = {s.name: invalid_contract(s) for s in defs.sensors if invalid_contract(s) is not None}
    in_dagster = ({s.name for s in defs.schedules} | {s.name for s in defs.sensors}) - set(placeholders)
    # every broken entry is visible (as a stopped placeholder carrying its issues), under its own name if it can be
    assert {c.entry for c in placeholders.values()} >= set(project.broken_schedules)
    assert all(c.issues and all(str(i).startswith(i.file) for i in c.issues) for c in placeholders.values())
    manifest = rebuild_manifest()
    assert {d.dag_id for d in manifest.dags if d.kind not in ("manual", "invalid")} == in_dagster
    assert {d.dag_id for d in manifest.dags if d.kind == "invalid"} == set(placeholders)
    untriggered = {j.name for j in defs.jobs} - {t.job_name for t in [*defs.schedules, *defs.sensors]}
    assert {d.dag_id for d in manifest.dags if d.kind == "manual"} == untriggered
    for spec in manifest.dags:
        render_dag(spec, ExecutionMode.IN_PROCESS)
    return in_dagster


@pytest.fixture
def project(example_project: Path, dativo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(UNSET, raising=False)
    return example_project


def test_the_corpus_is_large_and_its_ids_unique():
    assert len(CASES) >= 45
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_control_the_untouched_example_project_is_valid(project):
    code, output = _validate(project, real_process=False)
    assert code == 0, output
    assert _loaded_everywhere(project) == ALL


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, project: Path):
    if case.requires and not Path(case.requires).exists():
        pytest.skip(f"{case.requires} does not exist here")
    _apply(case, project)

    code, output = _validate(project, case.subprocess)
    assert code == 2, output
    assert "Traceback" not in output
    where = re.escape(case.reported_file) + (rf":\d+: {re.escape(case.field)}: " if case.field else r"(:\d+)?: ")
    errors = [line for line in output.splitlines() if line.startswith("ERROR ")]
    assert any(re.search(f"{where}.*(?:{case.phrase})", line) for line in errors), \
        f"no ERROR line names {case.reported_file!r} / {case.field!r} / {case.phrase!r}:\n{output}"
    for text in case.absent:
        assert text not in output

    assert _loaded_everywhere(project) == ALL - case.broken_schedules


def test_symlink_loops_under_a_recursive_jobs_glob_are_walked_once(project):
    """Not a bad input any more: `**` with symlinks back up the tree (which hung validate and every Airflow parse)
    finds each job file once; everything loads on both sides."""
    runner = project / "configs/runner.yaml"
    runner.write_text(runner.read_text().replace('jobs: ["../jobs/*/*.yaml"]', 'jobs: ["../jobs/*/*.yaml", '
                                                 '"../jobs/acme/**/orders_rebuild.yaml"]'))
    (project / "jobs/acme/loop").symlink_to(".")
    (project / "jobs/acme/data/up").symlink_to("../..")
    code, output = _validate(project, real_process=True)
    assert code == 0, output
    assert _loaded_everywhere(project) == ALL


def test_a_source_table_name_is_quoted_not_refused(project):
    """`tables[].name` is the source's table: any text is allowed (quoted at run time), unlike object names."""
    job = project / "jobs/initech/invoices.yaml"
    job.write_text(job.read_text().replace("    - name: invoices", "    - name: 'invoices\"; DROP TABLE x; --'\n"
                                           "      object: invoices"))
    code, output = _validate(project, real_process=False)
    assert code == 0, output


# --- runtime: a source returning malformed rows ---------------------------------------------------------
def _run(project: Path, job: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATIVO_RUNNER_CONFIG": str(project / "configs/runner.yaml")}
    env.pop("DATIVO_EVENT_LOG", None)
    return subprocess.run([DATIVO, "run", "--config", job], capture_output=True, text=True, env=env, cwd=project,
                          timeout=300)


def _failure_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stdout + done.stderr
    assert "terminate called" not in done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = [line for line in done.stdout.splitlines() if "malformed" in line]
    assert len(lines) == 1, done.stdout
    failed = [json.loads(line) for line in done.stderr.splitlines() if '"job_failed"' in line]
    assert failed and failed[0]["error_kind"] == "permanent"
    return lines[0]


def test_malformed_csv_row_is_a_permanent_error_naming_the_file(project):
    data = project / "jobs/initech/data/tickets.csv"
    data.write_bytes((RUNTIME_DATA / "ragged_tickets.csv").read_bytes())
    line = _failure_line(_run(project, "jobs/initech/tickets.yaml"))
    assert "permanent error: tickets: malformed csv data in " + str(data) in line
    assert "Expected 4 columns, got 5" in line and "fix or remove the bad rows" in line


def test_malformed_jsonl_line_is_a_permanent_error_naming_the_file(project):
    data = project / "jobs/globex/data/events.jsonl"
    data.write_bytes((RUNTIME_DATA / "broken_events.jsonl").read_bytes())
    line = _failure_line(_run(project, "jobs/globex/events.yaml"))
    assert "permanent error: events: malformed jsonl data in " + str(data) in line
    assert "JSON parse error" in line


def test_malformed_row_deep_in_a_large_file(project):
    """Past the first 4 MB block the parse error comes from the scan itself: still permanent (its row quotes
    '500', which must not read as an HTTP 5xx), still naming the file, and the process exits cleanly."""
    data = project / "jobs/initech/data/tickets.csv"
    rows = [f"{i},normal,TPS report {i},2026-03-01T01:00:00+00:00" for i in range(1, 250_001)]
    rows.insert(200_000, "200000,high,TPS,500,2026-03-01T01:00:00+00:00")
    data.write_text("ticket_id,priority,subject,opened_at\n" + "\n".join(rows) + "\n")
    line = _failure_line(_run(project, "jobs/initech/tickets.yaml"))
    assert f"malformed csv data in {data}: CSV parse error: Row #200002: Expected 4 columns, got 5" in line
