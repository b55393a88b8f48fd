"""`from dativo_ingest.validator import IncrementalStateManager` in upstream plugin files (re-export; no logic)."""

from dativo_defs.engine.sources.upstream_plugin import IncrementalStateManager  # noqa: F401
