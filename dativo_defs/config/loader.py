"""Load and validate runner and job files into models, turning every problem into a ConfigIssue."""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from .contract import Contract
from .errors import ConfigError, ConfigIssue
from .interpolation import interpolate
from .job import JobConfig
from .paths import builtin_variables
from .secrets import is_secret_path, secret_file_problem, secret_refs
from .sources import SOURCE_TYPES
from .targets import TARGET_TYPES
from .upstream.detect import is_upstream_file
from .upstream.paths import is_app_path, map_path
from .walk import bounded_glob
from .yaml_loader import FieldPath, LoadedYaml, dotted_path, load_yaml

if TYPE_CHECKING:  # the runner models (and croniter) are imported when a runner file is read: a job's run needs neither
    from .runner import OrchestratorType, RunnerConfig, Schedule

M = TypeVar("M", bound=BaseModel)
_UNION_LABELS = {"function-after", "function-before", "str", "int", "float", "bool"}
# File-level problems of a referenced file, reported on the field that references it: message -> wording.
_UNREADABLE = {"file not found": "not found", "not a regular file": "is not a regular file"}


def read_document(file: Path, env: Mapping[str, str] | None = None) -> LoadedYaml:
    """Read `file` as a YAML mapping and interpolate ${VAR}s. Raises ConfigError listing every issue."""
    doc, issues = _read_interpolated(file, env)
    if issues:
        raise ConfigError(issues)
    return doc


def _read_interpolated(file: Path, env: Mapping[str, str] | None) -> tuple[LoadedYaml, list[ConfigIssue]]:
    """The document with ${VAR}s substituted, and the variables that could not be."""
    doc = load_yaml(file)
    if not isinstance(doc.data, dict):
        raise ConfigError.single(file, f"expected a YAML mapping at the top level, got {type(doc.data).__name__}", line=1)
    return doc, doc.issues + interpolate(doc, builtin_variables() | dict(os.environ if env is None else env))


def validate_document(doc: LoadedYaml, model: type[M]) -> M:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        raise ConfigError([_issue(doc, model, err) for err in errors if not _union_noise(err, errors)]) from None


def parse_file(file: Path, model: type[M], env: Mapping[str, str] | None = None) -> M:
    """Read, interpolate and validate `file` against `model`. Raises ConfigError listing every issue."""
    return validate_document(read_document(file, env), model)


def _issue(doc: LoadedYaml, model: type[BaseModel], err: Mapping[str, Any]) -> ConfigIssue:
    path = _data_path(doc.data, err["loc"])
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _allowed_fields(model, path[:-1], doc.data)
        hint = difflib.get_close_matches(name, allowed, n=1)
        msg = f"unknown field {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else
                                           (f"; expected one of: {', '.join(sorted(allowed))}" if allowed else ""))
        path = path[:-1] + (name,)
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "union_tag_invalid":
        msg = f"unknown type {err['input'].get('type') if isinstance(err['input'], dict) else err['input']!r}; " \
              f"expected one of: {err['ctx']['expected_tags']}"
    elif kind == "union_tag_not_found":
        expected = {"source": SOURCE_TYPES, "target": TARGET_TYPES}.get(str(path[-1]) if path else "", [])
        msg = "`type` is missing" + (f"; expected one of: {', '.join(map(repr, expected))}" if expected else "")
    elif not is_secret_path(path) and _is_short_scalar(err.get("input")):
        msg = f"{msg} (got {err['input']!r})"
    return ConfigIssue(str(doc.file), msg, dotted_path(path), doc.line_of(path))


def _is_union_label(part: Any) -> bool:
    """pydantic's name for a member of a union in an error location ('Contract', 'constrained-str', ...);
    field names are lower case."""
    return isinstance(part, str) and ("[" in part or "-" in part or part[:1].isupper() or part in _UNION_LABELS)


def _union_noise(err: Mapping[str, Any], errors: list[Any]) -> bool:
    """A union member's "wrong kind of value" error while another member took the value and failed deeper
    (`contract:` given inline with a bad column is not "a valid string" either): the deeper error says it."""
    loc = err["loc"]
    if not loc or not _is_union_label(loc[-1]) or not err["type"].endswith("_type"):
        return False
    return any(len(o["loc"]) > len(loc) and o["loc"][:len(loc) - 1] == loc[:-1] and _is_union_label(o["loc"][len(loc) - 1])
               for o in errors)


def _is_short_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, bool, str)) and len(str(value)) <= 80


def _data_path(data: Any, loc: tuple[Any, ...]) -> FieldPath:
    """Map pydantic's error location onto the document, dropping union tags and wrapper keys it added."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif _is_union_label(part):
            continue  # pydantic's internal union member labels
        elif isinstance(node, dict) and part == "runner":
            continue  # bare runner form: the model wrapped it
        elif isinstance(node, dict) and isinstance(part, str) and part == node.get("type"):
            continue  # discriminated-union tag
        else:
            path.append(part)
            node = None
    return tuple(path)


def _allowed_fields(model: type[BaseModel], path: FieldPath, data: Any) -> list[str]:
    """Field names (and aliases) valid at `path`, for 'did you mean' hints."""
    from .schema import fields_at  # local: schema builds on every model

    return fields_at(model, path, data)


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """A validated job file with its resolved name and contract."""

    config: JobConfig
    file: Path
    name: str
    contract: Contract | None
    upstream: Any = None  # UpstreamCompat when the file is in the upstream Dativo dialect (config/upstream/)

    @property
    def tenant_id(self) -> str:
        return self.config.tenant_id

    @property
    def base_dir(self) -> Path:
        return self.file.parent

    @property
    def objects(self) -> list[str]:
        return self.config.source.objects()

    @property
    def op_name(self) -> str:
        """The job's Dagster op / multi-asset name and Airflow task_id."""
        return f"{self.tenant_id}__{self.name}"

    @property
    def asset_job_name(self) -> str:
        """The job's Dagster asset job name, which is also the dag_id of its manual Airflow DAG."""
        return f"{self.op_name}_job"


def _resolved(path: Path) -> Path:
    """`path.resolve()`, or the absolute path when it cannot be resolved (a symlink loop): reading it then
    reports the problem as a config issue instead of a traceback."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def load_job(file: Path, env: Mapping[str, str] | None = None, read: set[Path] | None = None) -> Job:
    """Load one job file and its contract file (an upstream-format job: its connector recipes and asset file).
    `read` collects every path looked at, found or not (the Airflow manifest's fingerprint: editing a recipe or
    creating a missing contract must rebuild it)."""
    file = _resolved(file)
    read = set() if read is None else read
    read.add(file)
    if is_upstream_file(file):  # the upstream dialect is translated as a whole, never mixed with ours
        from .upstream.load import load_upstream_job
        return load_upstream_job(file, env, read)
    config = parse_file(file, JobConfig, env)
    name = config.name or file.stem
    if config.name is None and not name.replace("_", "a").isalnum():
        raise ConfigError.single(file, f"file name {file.stem!r} is not a safe job name; set `name:` in the file", "name")
    _check_secret_files(config, file)
    contract = config.contract
    if isinstance(contract, str):
        contract_file = Path(contract) if Path(contract).is_absolute() else file.parent / contract
        read.add(_resolved(contract_file))
        try:
            contract = parse_file(_resolved(contract_file), Contract, env)
        except ConfigError as exc:
            if len(exc.issues) == 1 and exc.issues[0].message in _UNREADABLE:
                raise ConfigError.single(file, f"contract file {contract_file} {_UNREADABLE[exc.issues[0].message]}",
                                         "contract", _line(file, "contract")) from None
            raise
    return Job(config=config, file=file, name=name, contract=contract)


def _check_secret_files(config: JobConfig, file: Path) -> None:
    """`password: {file: /dev/zero}` is refused here, not when a run reads it (reads are bounded too)."""
    issues = []
    for path, ref in secret_refs(config):
        if ref.file:
            secret = Path(ref.file) if Path(ref.file).is_absolute() else file.parent / ref.file
            problem = secret_file_problem(secret)
            if problem:
                issues.append(ConfigIssue(str(file), problem, dotted_path(path + ("file",)), _line(file, *path, "file")))
    if issues:
        raise ConfigError(issues)


def _line(file: Path, *path: str | int) -> int | None:
    try:
        return load_yaml(file).line_of(path)
    except ConfigError:
        return None


@dataclass(frozen=True)
class ScheduledJob:
    """A schedule entry together with the job it runs and the orchestrator that owns it."""

    schedule: Schedule
    job: Job
    owner: OrchestratorType


@dataclass(frozen=True)
class BrokenEntry:
    """A runner entry left out of both orchestrators, with the issues that broke it. Both UIs show it as a
    stopped/paused placeholder carrying these issues (dativo_defs/placeholders.py)."""

    name: str  # the schedule's name as written; the job file's stem; the runner file's stem
    kind: Literal["schedule", "job", "runner"]  # job: a file only `runner.jobs` matched; runner: nothing loads
    issues: tuple[ConfigIssue, ...]


@dataclass
class Project:
    """Everything reachable from one runner file: valid schedules plus the issues of the broken ones."""

    runner_file: Path
    runner: RunnerConfig | None
    scheduled: list[ScheduledJob] = field(default_factory=list)
    unscheduled: list[Job] = field(default_factory=list)  # from `runner.jobs`: manual runs only
    issues: list[ConfigIssue] = field(default_factory=list)
    broken: list[BrokenEntry] = field(default_factory=list)
    read_files: set[Path] = field(default_factory=set)  # every config path looked at, including missing ones

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def broken_schedules(self) -> list[str]:
        return [entry.name for entry in self.broken if entry.kind == "schedule"]

    def set_aside(self, entry: ScheduledJob, issue: ConfigIssue) -> None:
        """Leave a loaded schedule out, reported with `issue` (a rule across jobs, or an orchestrator's own check
        failed); like a schedule whose job file is broken, it is then defined on neither orchestrator."""
        self.scheduled.remove(entry)
        self.broken.append(BrokenEntry(entry.schedule.name, "schedule", (issue,)))
        self.issues.append(issue)


def load_runner(file: Path, env: Mapping[str, str] | None = None) -> RunnerConfig:
    from .runner import RunnerFile

    return parse_file(_resolved(file), RunnerFile, env).runner


def load_runner_lenient(
    file: Path, env: Mapping[str, str] | None = None
) -> tuple[RunnerConfig, list[ConfigIssue], list[BrokenEntry]]:
    """Like load_runner, but broken schedule entries are set aside (and reported) instead of failing the
    whole file, so the other schedules still load. Returns (runner, issues, the set-aside schedules)."""
    from .runner import RunnerFile

    doc, unset = _read_interpolated(_resolved(file), env)
    if unset and not _schedule_indexes(ConfigError(unset)):
        raise ConfigError(unset)  # a variable outside the schedule entries: the whole file is unusable
    try:
        runner = validate_document(doc, RunnerFile).runner
        if not unset:
            return runner, [], []
        exc = ConfigError(unset)
    except ConfigError as invalid:
        exc = ConfigError(unset + _unshadowed(invalid.issues, doc.issues))
    # Entries with an unset variable or an invalid field are set aside; the other schedules load.
    bad = _schedule_indexes(exc)
    body = doc.data.get("runner", doc.data)
    orchestrator = body.get("orchestrator") if isinstance(body, dict) else None
    schedules = orchestrator.get("schedules") if isinstance(orchestrator, dict) else None
    if not bad or not isinstance(orchestrator, dict) or not isinstance(schedules, list):
        raise exc
    kept = [entry for i, entry in enumerate(schedules) if i not in bad]
    dropped = [BrokenEntry(str(e.get("name", f"#{i}")) if isinstance(e, dict) else f"#{i}", "schedule",
                           tuple(issue for issue in exc.issues if _schedule_index(issue) == i))
               for i, e in enumerate(schedules) if i in bad]
    pruned_body = {**body, "orchestrator": {**orchestrator, "schedules": kept}}
    pruned = LoadedYaml({"runner": pruned_body} if "runner" in doc.data else pruned_body,
                        {p: line for p, line in doc.lines.items() if "schedules" not in p}, doc.file)
    try:
        return validate_document(pruned, RunnerFile).runner, exc.issues, dropped
    except ConfigError as again:
        raise ConfigError(exc.issues + again.issues) from None


def _unshadowed(issues: list[ConfigIssue], yaml_issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Field errors minus those at a value the YAML reader already refused (read as null: "not a valid string"
    there would only repeat it)."""
    refused = {issue.field_path for issue in yaml_issues}
    return [issue for issue in issues if issue.field_path not in refused]


def _schedule_indexes(exc: ConfigError) -> set[int]:
    """Indexes of the schedule entries the issues point into; empty if any issue lies elsewhere."""
    indexes = [_schedule_index(issue) for issue in exc.issues]
    return set() if None in indexes else {i for i in indexes if i is not None}


def _schedule_index(issue: ConfigIssue) -> int | None:
    """The index of the schedule entry `issue` points into, or None when it lies elsewhere."""
    path = issue.field_path.removeprefix("runner.")
    prefix = "orchestrator.schedules["
    if not path.startswith(prefix) or "]" not in path:
        return None
    return int(path[len(prefix):path.index("]")])


def job_path(schedule: Schedule, runner_file: Path) -> Path:
    if is_app_path(schedule.config):  # upstream runner files name jobs under the Docker WORKDIR /app
        return _resolved(map_path(schedule.config, runner_file))
    path = Path(os.path.expanduser(schedule.config))
    return path if path.is_absolute() else _resolved(runner_file.parent / path)


def load_project(runner_file: Path, env: Mapping[str, str] | None = None) -> Project:
    """Load the runner file, every job it schedules and the unscheduled jobs its `jobs` patterns match. Never
    raises for user errors: one broken job is recorded in `issues` and the others still load."""
    runner_file = _resolved(runner_file)
    try:
        runner, issues, dropped = load_runner_lenient(runner_file, env)
    except ConfigError as exc:
        return Project(runner_file, None, issues=list(exc.issues), read_files={runner_file},
                       broken=[BrokenEntry(runner_file.stem, "runner", tuple(exc.issues))])
    project = Project(runner_file, runner, issues=issues, broken=dropped, read_files={runner_file})
    jobs: dict[Path, Job | ConfigError] = {}
    reported: dict[Path, tuple[ConfigIssue, ...]] = {}  # a broken job file -> its issues as reported
    job_names: dict[str, Path] = {}  # tenant__name (the job's op / asset job name in both orchestrators) -> file

    def load(file: Path, where: Callable[[], tuple[str, int | None]]) -> Job | ConfigError:
        """Load `file` once; `where` locates the reference to it in the runner file (for unreadable files)."""
        if file not in jobs:
            try:
                job = load_job(file, env, project.read_files)
                first = job_names.setdefault(f"{job.tenant_id}__{job.name}", file)
                if first != file:  # two jobs of one name would collide in Dagster (and take every job down)
                    raise ConfigError.single(file, f"tenant {job.tenant_id!r} already has a job named {job.name!r} "
                                             f"({first}); set a different `name:`", "name", _line(file, "name"))
                jobs[file] = job
            except ConfigError as exc:
                jobs[file] = exc
                issues = exc.issues
                if len(issues) == 1 and issues[0].message in _UNREADABLE and issues[0].file == str(file):
                    issues = [ConfigIssue(str(runner_file), f"job file {file} {_UNREADABLE[issues[0].message]}",
                                          *where())]
                project.issues.extend(issues)
                reported[file] = tuple(issues)
        return jobs[file]

    for schedule in runner.orchestrator.schedules:
        file = job_path(schedule, runner_file)
        loaded = load(file, partial(_schedule_config_field, runner_file, schedule.name))
        if isinstance(loaded, ConfigError):
            project.broken.append(BrokenEntry(schedule.name, "schedule", reported[file]))
        else:
            project.scheduled.append(ScheduledJob(schedule, loaded, runner.owner_of(schedule)))
    defined = set(jobs)  # scheduled job files, then unscheduled ones as they are added
    for index, pattern in enumerate(runner.jobs):
        field_path = f"runner.jobs[{index}]"
        files, problem = expand_job_pattern(pattern, runner_file)
        if problem:
            project.issues.append(ConfigIssue(str(runner_file), f"{pattern!r}: {problem}", field_path,
                                              _line(runner_file, "runner", "jobs", index)))
        elif not files:
            project.issues.append(ConfigIssue(str(runner_file), f"{pattern!r} matches no job file", field_path,
                                              _line(runner_file, "runner", "jobs", index)))
        for file in files:
            loaded = load(file, partial(_pattern_where, runner_file, field_path, index))
            if file in defined:
                continue
            defined.add(file)
            if isinstance(loaded, Job):
                project.unscheduled.append(loaded)
            else:  # a broken file no schedule names: its own placeholder
                project.broken.append(BrokenEntry(file.stem, "job", reported[file]))
    _check_dag_ids(project)
    return project


def _check_dag_ids(project: Project) -> None:
    """A schedule's name is its DAG's dag_id; a job's asset job name is the dag_id of its manual DAG (and a
    Dagster job name). A schedule named like any job's asset job would give two DAGs one dag_id (one silently
    replacing the other): the schedule is set aside."""
    jobs = {entry.job.asset_job_name: entry.job for entry in project.scheduled}
    jobs.update({job.asset_job_name: job for job in project.unscheduled})
    for entry in list(project.scheduled):
        clash = jobs.get(entry.schedule.name)
        if clash is not None:
            path = _schedule_field(project.runner_file, entry.schedule.name, "name")
            project.set_aside(entry, ConfigIssue(
                str(project.runner_file), f"schedule name {entry.schedule.name!r} is the dag_id and Dagster job name "
                f"of job {clash.tenant_id}/{clash.name} ({clash.file}); choose another schedule name", *path))


def absolute_job_pattern(pattern: str, runner_file: Path) -> Path:
    """A `runner.jobs` entry (a path or a glob, relative to the runner file) made absolute."""
    path = Path(os.path.expanduser(pattern))
    return path if path.is_absolute() else runner_file.parent / path


def expand_job_pattern(pattern: str, runner_file: Path) -> tuple[list[Path], str | None]:
    """The job files a `runner.jobs` entry names, and the bound the walk hit if any (see walk.py)."""
    path = absolute_job_pattern(pattern, runner_file)
    if not glob.has_magic(str(path)):
        return [_resolved(path)], None
    found = bounded_glob(path)
    files = {_resolved(match) for match in found.files if match.name.endswith((".yaml", ".yml"))}
    return sorted(files), found.problem


def _pattern_where(runner_file: Path, field_path: str, index: int) -> tuple[str, int | None]:
    """Field path and line of the `runner.jobs` entry at `index` (a file matched by that pattern)."""
    return field_path, _line(runner_file, "runner", "jobs", index)


def _schedule_config_field(runner_file: Path, name: str) -> tuple[str, int | None]:
    return _schedule_field(runner_file, name, "config")


def _schedule_field(runner_file: Path, name: str, key: str) -> tuple[str, int | None]:
    """Field path and line of `key` of the schedule called `name`, looked up by name in the file
    (indexes of the loaded runner shift when broken entries were set aside)."""
    try:
        doc = load_yaml(runner_file)
    except ConfigError:
        return "", None
    prefix: FieldPath = ("runner",) if isinstance(doc.data, dict) and "runner" in doc.data else ()
    body = doc.data.get("runner", doc.data) if isinstance(doc.data, dict) else {}
    orchestrator = body.get("orchestrator") if isinstance(body, dict) else None
    schedules = orchestrator.get("schedules") if isinstance(orchestrator, dict) else None
    entries = schedules if isinstance(schedules, list) else []
    index = next((i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("name") == name), 0)
    path = prefix + ("orchestrator", "schedules", index, key)
    return dotted_path(path), doc.line_of(path)
