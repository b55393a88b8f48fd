"""User-facing configuration errors: file, field path, line and what was expected — never a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one file: where it is and what was expected."""

    file: str
    message: str
    field_path: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field_path}: {self.message}" if self.field_path else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A configuration file is invalid; carries every issue found in it (not just the first)."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

    @classmethod
    def single(cls, file: str | Path, message: str, field_path: str = "", line: int | None = None) -> ConfigError:
        return cls([ConfigIssue(str(file), message, field_path, line)])


@dataclass
class ErrorCollector:
    """Accumulates issues across files so one broken job does not hide the others."""

    issues: list[ConfigIssue] = field(default_factory=list)

    def add(self, error: ConfigError) -> None:
        self.issues.extend(error.issues)

    def __bool__(self) -> bool:
        return bool(self.issues)
