"""Fixtures of the upstream-dialect tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.conftest import s3_endpoint  # noqa: F401 - the moto S3 fixture

from .project import upstream_project


@pytest.fixture
def lake(s3_endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """(app root of an upstream project, moto's S3 endpoint with an empty bucket `lake`, an s3fs on it). The
    recipes' ${AWS_*} templates resolve to moto's keys; DATIVO_HOME is per test."""
    import boto3
    import s3fs

    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing-key", aws_secret_access_key="testing-secret",
                 region_name="us-east-1").create_bucket(Bucket="lake")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    for var in ("S3_BUCKET", "S3_ENDPOINT", "DATIVO_APP_ROOT"):
        monkeypatch.delenv(var, raising=False)
    app = upstream_project(tmp_path / "app")
    fs = s3fs.S3FileSystem(key="testing-key", secret="testing-secret", skip_instance_cache=True, use_listings_cache=False,
                           client_kwargs={"endpoint_url": s3_endpoint, "region_name": "us-east-1"})
    return app, s3_endpoint, fs
