"""The shared S3 filesystem helper passes the job's storage settings to s3fs."""

from __future__ import annotations

from pathlib import Path

from dativo_defs.config.sources import ObjectStorage
from dativo_defs.engine.storage import filesystem


def test_path_style_access_reaches_the_s3_client(monkeypatch):
    monkeypatch.setenv("T_S3_SECRET", "s3-secret-value")
    storage = ObjectStorage.model_validate({"endpoint_url": "http://minio.internal:9000", "region": "eu-west-1",
                                            "access_key_id": "AKIA", "secret_access_key": {"env": "T_S3_SECRET"},
                                            "path_style_access": True})
    fs, root = filesystem("s3://bucket/prefix", storage, Path("."))
    assert root == "bucket/prefix"
    assert fs.config_kwargs == {"s3": {"addressing_style": "path"}}
    assert fs.client_kwargs == {"endpoint_url": "http://minio.internal:9000", "region_name": "eu-west-1"}
    assert (fs.key, fs.secret) == ("AKIA", "s3-secret-value")
    default, _ = filesystem("s3://bucket/prefix", storage.model_copy(update={"path_style_access": False}), Path("."))
    assert "s3" not in default.config_kwargs
