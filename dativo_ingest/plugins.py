"""`from dativo_ingest.plugins import BaseReader` in upstream plugin files (re-export; no logic here)."""

from dativo_defs.engine.sources.upstream_plugin import (  # noqa: F401
    PLUGIN_SDK_VERSION,
    BaseReader,
    ConnectionTestResult,
    DiscoveryResult,
)
