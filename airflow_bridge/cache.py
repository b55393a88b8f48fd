"""Load the manifest for the current runner file, rebuilding it (from dativo_defs) when anything changed."""

from __future__ import annotations

import logging
import os
import tempfile

from .manifest import Manifest, fingerprint
from .settings import manifest_path

log = logging.getLogger(__name__)


def load_manifest() -> Manifest:
    path = manifest_path()
    if path.exists():
        try:
            cached = Manifest.from_json(path.read_text())
            if cached.fingerprint == fingerprint(cached.inputs, cached.variables, cached.job_patterns):
                return cached
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("dativo: unreadable manifest %s (%s); rebuilding", path, exc)
    return rebuild_manifest()


def rebuild_manifest() -> Manifest:
    """Build the Dagster definitions and compile them (imports dagster: only when the inputs changed)."""
    from dativo_defs.config.loader import load_project
    from dativo_defs.config.paths import runner_config_path
    from dativo_defs.definitions import build_definitions

    from .compile import compile_manifest

    project = load_project(runner_config_path())
    manifest = compile_manifest(build_definitions(project), project)
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(manifest.to_json())
    os.replace(handle.name, path)
    return manifest
