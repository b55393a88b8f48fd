"""Safe YAML loading that remembers the line of every value and refuses hostile input.

PyYAML's node graph is walked by hand so that each value's line is kept (errors can then point at it)
and so that alias expansion is bounded: a "billion laughs" document is rejected instead of eating memory.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .bounded import FileTooLarge, NotRegularFile, read_bounded
from .errors import ConfigError, ConfigIssue
from .secrets import is_secret_path

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64

FieldPath = tuple[str | int, ...]
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same result, faster
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}


def dotted_path(path: FieldPath) -> str:
    """`("source", "objects", 0, "name")` -> `source.objects[0].name`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class LoadedYaml:
    """The parsed document plus the 1-based line of every field path in it."""

    data: Any
    lines: dict[FieldPath, int]
    file: Path
    # Problems that leave the rest of the document readable (a duplicate key: the first value is kept), located
    # at their field so that a lenient load sets aside only the entry holding one.
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that appears in the file."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


class _Builder:
    def __init__(self, file: Path):
        self.file = file
        self.lines: dict[FieldPath, int] = {}
        self.count = 0
        self.issues: list[ConfigIssue] = []
        self._scalars = yaml.SafeLoader("")  # only its scalar constructors are used

    def _problem(self, message: str, path: FieldPath, node: yaml.Node) -> None:
        """A problem confined to one value (or key): recorded, the value read as null, the rest still read, so
        that a lenient load can set aside just the entry holding it."""
        self.issues.append(ConfigIssue(str(self.file), message, dotted_path(path), node.start_mark.line + 1))

    def build(self, node: yaml.Node, path: FieldPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError.single(self.file, f"document expands to more than {MAX_NODES} values "
                                     "(YAML alias bomb?); refusing to load it")
        if depth > MAX_DEPTH:
            raise ConfigError.single(self.file, f"nesting deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _PLAIN_TAGS:
            return self._problem(f"unsupported YAML tag {node.tag!r}; only plain values are allowed", path, node)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem("YAML merge keys (<<) are not supported; write the fields out", path, key_node)
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self._problem("mapping keys must be plain values", path, key_node)
                    continue
                key = self._scalar(key_node, path)
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    self._problem(f"mapping keys must be strings, got {key!r}", path, key_node)
                    continue
                key = str(key)
                if key in result:
                    self._problem(f"duplicate key {key!r} (first on line {self.lines[path + (key,)]})", path + (key,),
                                  key_node)
                    continue
                self.lines.setdefault(path + (key,), key_node.start_mark.line + 1)  # errors point at the key
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        value = self._scalar(node, path)
        if isinstance(value, str) and "\x00" in value:  # "\0" escapes: no config value has a use for NUL
            return self._problem("NUL character in a value", path, node)
        return value

    def _scalar(self, node: yaml.Node, path: FieldPath = ()) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = " ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)])) or "unreadable"
            return self._problem(f"invalid value: {problem}", path, node)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:  # e.g. a date like 2024-02-30, `!!int abc`
            shown = "(a secret field: value not shown)" if is_secret_path(path) else f"{node.value!r} ({exc})"
            return self._problem(f"invalid value {shown}; quote it to keep it as text", path, node)


def read_text(file: Path) -> str:
    """Read a config file as UTF-8 text, refusing missing, oversized and binary files clearly."""
    try:
        raw = read_bounded(file, MAX_FILE_BYTES)
    except NotRegularFile:
        raise ConfigError.single(file, "not a regular file") from None
    except FileTooLarge as exc:
        raise ConfigError.single(file, f"file is {exc.size} bytes; config files are limited to {MAX_FILE_BYTES}") from None
    except (OSError, ValueError) as exc:  # missing, a symlink loop, unreadable, name too long, NUL in the path
        if getattr(exc, "errno", None) in (errno.ENOENT, errno.ELOOP):
            raise ConfigError.single(file, "file not found") from None
        raise ConfigError.single(file, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    if b"\x00" in raw:
        raise ConfigError.single(file, "file is binary (contains NUL bytes), expected YAML text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError.single(file, f"file is not UTF-8 text (byte {exc.start})") from None


def load_yaml(file: Path) -> LoadedYaml:
    """Parse one YAML document with line tracking. Raises ConfigError, never a YAML traceback."""
    text = read_text(file)
    try:
        node = yaml.compose(text, Loader=_SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        lines = text.split("\n")
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][:mark.column + 1]:
            problem += " (a tab character: YAML indentation must use spaces)"
        raise ConfigError.single(file, f"invalid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError.single(file, f"invalid YAML: {exc}") from None
    if node is None:
        raise ConfigError.single(file, "file is empty, expected a YAML mapping")
    builder = _Builder(file)
    data = builder.build(node, (), 0)
    return LoadedYaml(data=data, lines=builder.lines, file=file, issues=builder.issues)
