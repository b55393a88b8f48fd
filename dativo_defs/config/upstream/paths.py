"""Where upstream paths point here.

Upstream runs in a Docker image whose WORKDIR is /app: jobs name recipes and assets as `/app/connectors/...`,
`/app/assets/...`, and other relative paths resolve against /app (the repository root). The rule here:

- the app root is $DATIVO_APP_ROOT when set; otherwise the nearest folder above the job (or runner) file that
  holds a `connectors/` folder; otherwise the project directory (the runner file's project);
- `/app/<rest>` becomes `<app root>/<rest>` unless `/app/<rest>` exists on this machine (a real /app mount);
- a relative path resolves against the app root.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import project_dir

APP_ROOT_ENV = "DATIVO_APP_ROOT"
DOCKER_WORKDIR = "/app"


def app_root(anchor: Path | None = None) -> Path:
    """The folder upstream's /app stands for (see the module docstring for the rule)."""
    if os.environ.get(APP_ROOT_ENV):
        return Path(os.environ[APP_ROOT_ENV]).expanduser().resolve()
    if anchor is not None:
        for folder in [anchor, *anchor.parents] if anchor.is_dir() else anchor.parents:
            if (folder / "connectors").is_dir():
                return folder
    return project_dir()


def map_path(path: str, anchor: Path | None = None) -> Path:
    """An upstream path (absolute under /app, or relative to the app root) as a path on this machine."""
    text = os.path.expanduser(path)
    if text == DOCKER_WORKDIR or text.startswith(DOCKER_WORKDIR + "/"):
        if Path(text).exists() and not os.environ.get(APP_ROOT_ENV):
            return Path(text)
        return app_root(anchor) / text[len(DOCKER_WORKDIR):].lstrip("/")
    candidate = Path(text)
    return candidate if candidate.is_absolute() else app_root(anchor) / candidate


def is_app_path(path: str) -> bool:
    return path == DOCKER_WORKDIR or path.startswith(DOCKER_WORKDIR + "/")
