"""`from dativo_ingest.plugins import BaseReader, BaseWriter` in upstream plugin files (re-export; no logic here)."""

from dativo_defs.engine.sources.upstream_plugin import (  # noqa: F401
    PLUGIN_SDK_VERSION,
    BaseReader,
    ConnectionTestResult,
    DiscoveryResult,
)
from dativo_defs.engine.targets.upstream_writer import BaseWriter  # noqa: F401
