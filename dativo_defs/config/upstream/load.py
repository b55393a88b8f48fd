"""Load an upstream-format job file into dativo's Job (with its UpstreamCompat)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from ..contract import Contract
from ..errors import ConfigError, ConfigIssue
from ..job import JobConfig
from ..yaml_loader import LoadedYaml, dotted_path
from .translate import translate


def _located(issue: ConfigIssue, doc: LoadedYaml, recipes: dict[str, Path]) -> ConfigIssue:
    """An issue about a value the job file does not contain came from its connector recipe: say so."""
    side = issue.field_path.split(".")[0].split("[")[0]
    written = any(dotted_path(path) == issue.field_path for path in doc.lines)
    if written or side not in recipes:
        return issue
    return ConfigIssue(issue.file, f"{issue.message} (the value comes from connector recipe {recipes[side]})",
                       issue.field_path, issue.line)


def load_upstream_job(file: Path, env: Mapping[str, str] | None = None, read: set[Path] | None = None):
    """The Job an upstream-format file describes. Raises ConfigError listing every issue. `read` collects the
    connector recipes and asset file it names, found or not (see loader.load_job)."""
    from ..loader import Job, _resolved, read_document, validate_document  # the loader dispatches here

    doc = read_document(file, env)
    seen: set[Path] = set()
    try:
        translated = translate(doc, dict(os.environ if env is None else env), seen)
    finally:  # a missing or broken recipe too: creating or fixing it must rebuild the manifest
        if read is not None:
            read.update(_resolved(path) for path in seen)
    try:
        config = validate_document(LoadedYaml(translated.job, doc.lines, doc.file), JobConfig)
    except ConfigError as exc:
        raise ConfigError([_located(issue, doc, translated.recipes) for issue in exc.issues]) from None
    contract = None
    if translated.contract is not None:
        try:
            contract = Contract.model_validate(translated.contract)
        except ValidationError as exc:
            raise ConfigError([ConfigIssue(str(translated.contract_file), e["msg"], dotted_path(e["loc"]))
                               for e in exc.errors()]) from None
    return Job(config=config, file=file, name=config.name or file.stem, contract=contract, upstream=translated.compat)
