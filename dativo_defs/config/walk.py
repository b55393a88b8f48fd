"""Glob patterns (`runner.jobs: ["../jobs/**/*.yaml"]`) expanded by a bounded, symlink-loop-safe walk.

`glob.glob(..., recursive=True)` follows symlinked directories without remembering where it has been: one
`loop -> .` under a `**` pattern hangs `dativo validate` and every Airflow parse. This walk descends into each
real directory once (by device and inode), at most MAX_DEPTH levels below the pattern's fixed root, and stops
after MAX_ENTRIES directory entries, reporting that instead of hanging.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 16
MAX_ENTRIES = 50_000


@dataclass
class GlobResult:
    files: list[Path] = field(default_factory=list)
    problem: str | None = None  # set when a bound was hit (the files found so far are returned)


def _matches(names: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """glob's meaning: each part matches one name (fnmatch; a wildcard skips names starting with '.'), and
    `**` matches zero or more names."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(_matches(names[i:], parts[1:]) for i in range(len(names) + 1)
                   if not any(n.startswith(".") for n in names[:i]))
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _matches(names[1:], parts[1:])


def bounded_glob(pattern: str | os.PathLike[str], max_depth: int = MAX_DEPTH,
                 max_entries: int = MAX_ENTRIES) -> GlobResult:
    """Regular files matching an absolute glob `pattern`, sorted; never follows a directory twice."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    rest = list(parts[fixed:])
    if not rest:
        return GlobResult([root] if root.is_file() else [])
    pattern_parts = tuple(rest)
    depth_limit = max_depth if "**" in rest else len(rest) - 1
    result = GlobResult()
    seen: set[tuple[int, int]] = set()
    entries = 0
    stack: list[tuple[Path, tuple[str, ...], int]] = [(root, (), 0)]
    while stack:
        directory, relative, depth = stack.pop()
        try:
            info = directory.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue  # a symlink back into the tree (a loop) or a second way to the same directory
            seen.add((info.st_dev, info.st_ino))
            children = list(os.scandir(directory))
        except OSError:
            continue  # missing root, unreadable or looping symlink: nothing matches there
        for entry in children:
            entries += 1
            if entries > max_entries:
                result.problem = f"the walk visited more than {max_entries} entries; narrow the pattern"
                result.files.sort()
                return result
            names = relative + (entry.name,)
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if depth < depth_limit:
                    stack.append((Path(entry.path), names, depth + 1))
                elif "**" in rest and depth >= max_depth:
                    result.problem = f"directories nest deeper than {max_depth} levels below {root}; narrow the pattern"
            elif is_file and _matches(names, pattern_parts):
                result.files.append(Path(entry.path))
    result.files.sort()
    return result
