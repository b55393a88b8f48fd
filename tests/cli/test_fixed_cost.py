"""The fixed cost of a fresh `dativo run` process is mostly imports: a run imports what its job needs, not the
other commands' modules, the runner-file models, the installed plugins, or pyiceberg when nothing new arrived."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from tests.conftest import REPO

# `python -m dativo_defs.cli run ...` in a process that then reports which of these it imported.
CLI_RUN = """
import json, runpy, sys
names = json.loads(sys.argv[2])
sys.argv = ["dativo", "run", "--config", sys.argv[1], "--json"]
try:
    runpy.run_module("dativo_defs.cli", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "imported": sorted(
    name for name in names if any(m == name or m.startswith(name + ".") for m in sys.modules))}))
"""
NOT_IMPORTED = [
    "pyiceberg", "sqlalchemy", "rich", "croniter", "dagster", "airflow", "airflow_bridge",
    "dativo_defs.cli_init", "dativo_defs.cli_show", "dativo_defs.cli_preview", "dativo_defs.connector_docs",
    "dativo_defs.config.runner",
]


def test_a_run_without_new_rows_imports_only_what_the_run_needs(write, dativo_home):
    data = dativo_home.parent / "data/items.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(5)))
    path = write("jobs/t4/items.yaml", """
        tenant_id: t4
        source:
          type: jsonl
          files: [{path: ../../data/items.jsonl, object: items}]
          incremental: {cursor_field: id}
        target: {type: iceberg}
    """)
    assert run_job(load_job(path)).rows_written == 5
    out = subprocess.run([sys.executable, "-c", CLI_RUN, str(path), json.dumps(NOT_IMPORTED)], capture_output=True,
                         text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    result, report = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    assert (result["status"], result["rows_written"]) == ("success", 0)
    assert report == {"exit": 0, "imported": []}


def test_the_lazily_loaded_commands_are_listed_and_run():
    from importlib.metadata import entry_points

    from click.testing import CliRunner

    from dativo_defs.cli import LAZY_COMMANDS, main

    listed = CliRunner().invoke(main, ["--help"])
    commands = [line.split()[0] for line in listed.output.split("Commands:")[1].splitlines() if line[2:3].isalpha()]
    plugins = {entry.name for entry in entry_points(group="dativo.cli")}  # airflow_bridge's, when it imports
    assert listed.exit_code == 0 and {*LAZY_COMMANDS, "run", "validate"} <= {*commands} <= {*main.commands, *plugins}
    assert CliRunner().invoke(main, ["docs", "--help"]).exit_code == 0
    unknown = CliRunner().invoke(main, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command 'no-such-command'" in unknown.output
