"""Bad input in an upstream-format job never produces a traceback: for every field of the dialect fixtures, each
wrong kind of value gives a ConfigError naming the file (or loads, when the value is acceptable)."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.loader import load_job

from .project import upstream_project
from .test_dialect import CSV_JOB, PG_JOB

BAD_VALUES: list[Any] = [None, 7, "x", [], {}, [1, "a"], {"k": [None]}, -1, True]


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, prefix + (index,))
    return out


def replaced(doc: Any, path: tuple, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("base, mutated", [("csv", "job"), ("postgres", "job"), ("csv", "assets/people.yaml"),
                                           ("postgres", "assets/orders.yaml"), ("csv", "connectors/csv.yaml"),
                                           ("postgres", "connectors/postgres.yaml"),
                                           ("postgres", "connectors/iceberg.yaml")])
def test_every_field_with_every_wrong_value_is_a_config_error_or_loads(tmp_path: Path, monkeypatch, base: str,
                                                                       mutated: str) -> None:
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    app = upstream_project(tmp_path / "app")
    text = CSV_JOB.replace("{warehouse}", "lake") + "    retry_config: {max_retries: 2, retryable_error_patterns: [x]}\n" \
        if base == "csv" else PG_JOB
    job_file = app / "jobs/acme/fuzz.yaml"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    job_file.write_text(textwrap.dedent(text), encoding="utf-8")
    file = job_file if mutated == "job" else app / mutated
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    outcomes = {"loaded": 0, "refused": 0}
    for path in paths(doc):
        for value in BAD_VALUES:
            file.write_text(yaml.safe_dump(replaced(doc, path, value)), encoding="utf-8")
            try:
                load_job(job_file)
                outcomes["loaded"] += 1
            except ConfigError as exc:
                assert exc.issues and all(i.file and i.message for i in exc.issues), (path, value)
                outcomes["refused"] += 1
            except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
                pytest.fail(f"{'.'.join(map(str, path))} = {value!r}: {type(exc).__name__}: {exc}")
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0, outcomes
