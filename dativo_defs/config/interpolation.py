"""`${VAR}` and `${VAR:-default}` substitution from the environment, applied to every string value.

`$${` writes a literal `${`. A variable that is unset and has no default is an error naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigIssue
from .secrets import is_secret_path
from .yaml_loader import FieldPath, LoadedYaml, dotted_path

_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{([^}]*)\}?")


def interpolate_string(value: str, env: Mapping[str, str], secret: bool = False) -> tuple[str, list[str]]:
    """Return (value with variables substituted, problems found). For a `secret` value the problems never quote
    the text (a password may contain `${`: echoing the reference would print part of it)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name is None:
            quoted = "(in a secret value: not shown)" if secret else repr(match.group(0))
            problems.append(f"malformed variable reference {quoted}, expected ${{NAME}} or ${{NAME:-default}}; "
                            "write $${ for a literal '${'")
            return match.group(0)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"environment variable {name} is not set (write ${{{name}:-default}} to give a default)")
        return match.group(0)

    return _PATTERN.sub(replace, value), problems


def interpolate(doc: LoadedYaml, env: Mapping[str, str]) -> list[ConfigIssue]:
    """Substitute variables in place in `doc.data`; return the issues (empty when all resolved)."""
    issues: list[ConfigIssue] = []

    def walk(value: Any, path: FieldPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            new, problems = interpolate_string(value, env, secret=is_secret_path(path))
            for problem in problems:
                issues.append(ConfigIssue(str(doc.file), problem, dotted_path(path), doc.line_of(path)))
            return new
        return value

    doc.data = walk(doc.data, ())
    return issues
