"""Filesystems for local paths and s3:// URLs, shared by the file source and the Parquet target."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

from ..config.sources import ObjectStorage


def filesystem(path: str, storage: ObjectStorage | None, base_dir: Path) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of a local path or URL and the path within it; s3:// uses `storage` when given
    (secrets resolved here, at run time), else s3fs's default credential chain."""
    options: dict[str, Any] = {}
    if path.startswith("s3://") and storage:
        options = {"client_kwargs": {k: v for k, v in {"endpoint_url": storage.endpoint_url,
                                                       "region_name": storage.region}.items() if v}}
        if storage.access_key_id:
            options["key"] = storage.access_key_id.resolve(base_dir)
        if storage.secret_access_key:
            options["secret"] = storage.secret_access_key.resolve(base_dir)
        if storage.path_style_access:  # MinIO and other endpoints without per-bucket DNS names
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    return fsspec.core.url_to_fs(path, **options)


def mtime(info: dict[str, Any]) -> float:
    """Modification time (epoch seconds) from an fsspec info dict, whatever the filesystem calls it."""
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return float(value)
