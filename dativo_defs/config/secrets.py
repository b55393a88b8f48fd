"""Secrets are given by reference — an environment variable or a file — and resolved only when used.

Every resolved value is registered with the redactor, so it is masked in log lines and error text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from .base import StrictModel
from .bounded import FileTooLarge, NotRegularFile, read_bounded

# Field names that hold secrets (matched against every part of a field path): errors about them never quote
# the value or any part of it.
SECRET_WORDS = ("password", "token", "secret", "credential", "dsn", "key")
# A secret is a password, a token or a key: a secret file larger than this is not one (`file: /dev/zero`).
MAX_SECRET_BYTES = 64 * 1024


def is_secret_path(path: Sequence[str | int] | str) -> bool:
    """True when a field path (`source.connection.password`, or its parts) names a secret-bearing field."""
    text = path if isinstance(path, str) else ".".join(str(p) for p in path)
    return any(word in text.lower() for word in SECRET_WORDS)


class SecretNotAvailable(LookupError):
    """A secret reference points at an unset variable or an unreadable file."""


class SecretRef(StrictModel):
    """`{env: NAME}` or `{file: PATH}`. A plain string is accepted too (e.g. from `${VAR}`), never required."""

    env: str | None = Field(None, description="Name of the environment variable holding the secret.")
    file: str | None = Field(None, description="Path of a file whose (stripped) content is the secret.")
    value: str | None = Field(None, description="Inline value; prefer env or file.", repr=False)

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if sum(x is not None for x in (self.env, self.file, self.value)) != 1:
            raise ValueError("a secret takes exactly one of `env: VAR_NAME` or `file: /path/to/secret`")
        return self

    def describe(self) -> str:
        """Where the secret comes from, safe to print."""
        if self.env:
            return f"env:{self.env}"
        return f"file:{self.file}" if self.file else "inline value (hidden)"

    def resolve(self, base_dir: Path | None = None) -> str:
        """The secret's value, registered for redaction. Raises SecretNotAvailable naming the reference."""
        from ..engine.redaction import register_secret  # the engine owns redaction; config only feeds it

        if self.env:
            if self.env not in os.environ:
                raise SecretNotAvailable(f"secret environment variable {self.env} is not set")
            value = os.environ[self.env]
        elif self.file:
            path = Path(self.file)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            value = read_secret_file(path)
        else:
            value = self.value or ""
        register_secret(value)
        return value

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = __repr__


def read_secret_file(path: Path) -> str:
    """The stripped UTF-8 content of a secret file: a regular file of at most MAX_SECRET_BYTES, checked before
    it is read (a FIFO would block, /dev/zero would never end) and read with a bound (see bounded.py)."""
    try:
        raw = read_bounded(path, MAX_SECRET_BYTES)
    except NotRegularFile:
        raise SecretNotAvailable(f"secret file {path} is not a regular file") from None
    except FileTooLarge as exc:
        raise SecretNotAvailable(f"secret file {path} is {exc.size} bytes; secrets are limited to "
                                 f"{MAX_SECRET_BYTES}") from None
    except OSError as exc:
        raise SecretNotAvailable(f"secret file {path} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretNotAvailable(f"secret file {path} is not UTF-8 text") from None


def secret_file_problem(path: Path) -> str | None:
    """What is wrong with a secret file that exists, checked without opening it (validate time); a missing
    one is fine here (it may be mounted only where jobs run)."""
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return f"secret file {path} is not a regular file"
    if info.st_size > MAX_SECRET_BYTES:
        return f"secret file {path} is {info.st_size} bytes; secrets are limited to {MAX_SECRET_BYTES}"
    return None


def secret_refs(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], SecretRef]]:
    """Every SecretRef in a loaded model, with its field path."""
    if isinstance(value, SecretRef):
        return [(path, value)]
    if isinstance(value, BaseModel):
        return [ref for name in type(value).model_fields for ref in secret_refs(getattr(value, name), path + (name,))]
    if isinstance(value, (list, tuple)):
        return [ref for index, item in enumerate(value) for ref in secret_refs(item, path + (index,))]
    if isinstance(value, dict):
        return [ref for key, item in value.items() for ref in secret_refs(item, path + (key,))]
    return []


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, dict) and "from_env" in value:  # Dativo's `credentials: {from_env: NAME}`
        value = {**value, "env": value["from_env"]}
        value.pop("from_env")
    return value


Secret = Annotated[SecretRef, BeforeValidator(_coerce)]
