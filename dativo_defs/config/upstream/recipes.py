"""Connector recipes (`connectors/*.yaml`): read them and fill their `${VAR}` templates.

A recipe gives defaults the job's own fields override. Its templates are optional defaults: a template whose
variable is unset is treated as not given (the job's own `${VAR}`s stay errors when unset, as in any dativo
file). A secret field written as exactly `${VAR}` becomes a reference to that variable, resolved at run time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..interpolation import interpolate_string
from ..yaml_loader import load_yaml

_WHOLE_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
SECRET_FIELDS = frozenset({"password", "access_key_id", "secret_access_key", "access_key", "secret_key", "token",
                           "api_key", "session_token"})


@dataclass(frozen=True)
class Recipe:
    file: Path
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type") or self.data.get("name") or "")

    @property
    def engine_type(self) -> str:
        engine = self.data.get("default_engine")
        return str(engine.get("type", "native")) if isinstance(engine, dict) else "native"

    def native_options(self) -> dict[str, Any]:
        engine = self.data.get("default_engine")
        options = engine.get("options") if isinstance(engine, dict) else None
        native = options.get("native") if isinstance(options, dict) else None
        return native if isinstance(native, dict) else {}

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}


def read_recipe(path: Path) -> Recipe:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError.single(path, "a connector recipe must be a YAML mapping", line=1)
    return Recipe(path, doc.data)


def fill_template(value: Any, env: Mapping[str, str], key: str = "") -> Any:
    """A recipe template value with its variables substituted; None when a variable is unset."""
    if isinstance(value, dict):
        filled = {k: fill_template(v, env, str(k)) for k, v in value.items()}
        return {k: v for k, v in filled.items() if v is not None}
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _WHOLE_VAR.match(value)
    if whole and key in SECRET_FIELDS:
        return {"env": whole.group(1)} if whole.group(1) in env else None
    text, problems = interpolate_string(value, env)
    return None if problems else text


def merged(recipe_value: Any, job_value: Any) -> Any:
    """Deep merge: the job's fields override the recipe's."""
    if isinstance(recipe_value, dict) and isinstance(job_value, dict):
        out = dict(recipe_value)
        for key, value in job_value.items():
            out[key] = merged(recipe_value.get(key), value)
        return out
    return recipe_value if job_value is None else job_value
