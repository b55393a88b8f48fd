"""The upstream Dativo job dialect (dativo-io/dativo-ingest v1.x), loaded with upstream's meaning.

A job file is in this dialect when it names a connector recipe or an asset the upstream way
(`source_connector_path`, `target_connector_path` or `asset`); it is then translated as a whole into dativo's
own models plus an `UpstreamCompat` that carries the behaviour that differs (first-run window, retries, exit
codes, state-file migration, table properties). The two meanings are never mixed inside one file.
"""

from .dialect import UPSTREAM_MARKERS, UpstreamCompat, is_upstream

__all__ = ["UPSTREAM_MARKERS", "UpstreamCompat", "is_upstream"]
