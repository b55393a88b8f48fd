"""Broken runner entries, visible in the UIs: one stopped placeholder sensor per entry that did not load.

A schedule whose job file is invalid (or that Dagster or a cross-job rule refused), a job file only `runner.jobs`
matched, or the runner file itself when nothing of it loads: each becomes a sensor named after the entry
(the schedule's name where Dagster allows it), STOPPED, whose description is the error (file:line: field:
message, as `dativo validate` prints it) and the fix hint. It carries an InvalidEntryContract (contract.py),
from which the Airflow bridge renders a paused placeholder DAG tagged `dativo:invalid`.

Nothing meaningful can be launched from it: started by hand, every tick skips with the error; its job is a
single op that fails with the error (no retries).
"""

from __future__ import annotations

import re

from dagster import (
    DefaultSensorStatus,
    Failure,
    JobDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
)
from dagster._core.definitions.utils import is_valid_name

from .config.loader import BrokenEntry, Project
from .contract import InvalidEntryContract, IssueRef, as_metadata

INVALID_TAG = "dativo/invalid"
JOB_SUFFIX = "__invalid"  # the placeholder's job (and graph); its one op adds "_op"
HINT = ("edit the file at the line shown (`dativo validate` lists every problem), then reload the Dagster code "
        "location; Airflow picks the fix up on its next parse of the dags folder")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def placeholder_name(entry: BrokenEntry, taken: set[str]) -> str:
    """The entry's own name when Dagster and Airflow accept it and nothing else has it; otherwise a safe,
    unique variant. `taken` (every name already defined) is extended with the result and its job's name."""
    base = _UNSAFE.sub("_", entry.name)[:200].strip("_") or "entry"
    if not is_valid_name(base):  # a name Dagster reserves (context, config, ...) or one starting oddly
        base = f"invalid_{base}"
    name, number = base, 1
    while {name, f"{name}{JOB_SUFFIX}", f"{name}{JOB_SUFFIX}_op"} & taken:
        number += 1
        name = f"{base}_invalid" if number == 2 else f"{base}_invalid_{number}"
    taken.update({name, f"{name}{JOB_SUFFIX}", f"{name}{JOB_SUFFIX}_op"})
    return name


def invalid_contract_for(entry: BrokenEntry, name: str) -> InvalidEntryContract:
    return InvalidEntryContract(
        name=name, entry=entry.name, entry_kind=entry.kind, hint=HINT,
        issues=tuple(IssueRef(file=i.file, message=i.message, field_path=i.field_path, line=i.line) for i in entry.issues),
    )


def _failing_job(contract: InvalidEntryContract) -> JobDefinition:
    error = contract.error_text()

    @op(name=f"{contract.name}{JOB_SUFFIX}_op", description=error, tags={INVALID_TAG: "true"})
    def refuse() -> None:
        raise Failure(description=error, allow_retries=False)

    @job(name=f"{contract.name}{JOB_SUFFIX}", description=error, tags={INVALID_TAG: "true"})
    def placeholder() -> None:
        refuse()

    return placeholder


def _placeholder(contract: InvalidEntryContract) -> SensorDefinition:
    error = contract.error_text()

    def evaluate(context: SensorEvaluationContext) -> SkipReason:
        return SkipReason(error)

    return SensorDefinition(
        name=contract.name, evaluation_fn=evaluate, minimum_interval_seconds=3600, job=_failing_job(contract),
        default_status=DefaultSensorStatus.STOPPED, description=error, tags={INVALID_TAG: "true"},
        metadata=as_metadata(contract),
    )


def build_placeholders(project: Project, taken: set[str]) -> list[SensorDefinition]:
    """One stopped placeholder sensor per broken entry of `project`; `taken`: every name already defined
    (schedules, sensors, jobs, ops), extended with the placeholders' names."""
    return [_placeholder(invalid_contract_for(entry, placeholder_name(entry, taken))) for entry in project.broken]
