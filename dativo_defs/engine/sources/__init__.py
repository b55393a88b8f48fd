"""Registry of source kinds: `type` name -> lazily imported Source class (heavy drivers load only when used)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .base import Source

# type -> "module:Class" (relative to this package, or a dotted path for sources that live elsewhere).
# A new kind adds one line here.
SOURCE_CLASSES: dict[str, str] = {
    "csv": "files:FileSource",
    "jsonl": "files:FileSource",
    "parquet": "files:FileSource",
    "sqlite": "sql:SqlSource",
    "postgres": "sql:SqlSource",
    "postgresql": "sql:SqlSource",
    "mysql": "sql:SqlSource",
    "mariadb": "sql:SqlSource",
    "rest": "rest:RestSource",
    "stripe": "rest:RestSource",
    "hubspot": "rest:RestSource",
    "upstream_plugin": "upstream_plugin:PluginSource",
    "gdrive_csv": "gdrive:GoogleDriveSource",
    "google_sheets": "gsheets:GoogleSheetsSource",
}


def load_source(config: Any, base_dir: Path) -> Source:
    """Instantiate the source for `config.type`, or the job's `custom_reader` class when it names one."""
    module_name, class_name = (config.custom_reader or SOURCE_CLASSES[config.type]).split(":")
    module = importlib.import_module(module_name if "." in module_name else f"{__name__}.{module_name}")
    return getattr(module, class_name)(config, base_dir)
