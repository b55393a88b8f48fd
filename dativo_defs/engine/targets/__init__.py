"""Registry of target kinds: `type` -> lazily imported Target class."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .base import Target

TARGET_CLASSES: dict[str, str] = {
    "iceberg": "iceberg:IcebergTarget",
    "parquet": "parquet:ParquetTarget",
    "upstream_writer": "upstream_writer:UpstreamWriterTarget",
}


def load_target(config: Any, tenant_id: str, job_name: str, home: Path, base_dir: Path) -> Target:
    module_name, class_name = TARGET_CLASSES[config.type].split(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)(config, tenant_id, job_name, home, base_dir)
