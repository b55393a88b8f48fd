"""Fixtures shared by the engine tests."""

from __future__ import annotations

import socket
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server on a free loopback port, empty, started and stopped by the test: a stand-in for S3
    (nothing external is reachable here). Jobs reach it with the keys in S3_KEY / S3_SECRET."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("S3_KEY", "testing-key")
    monkeypatch.setenv("S3_SECRET", "testing-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in process-wide state: start from an empty S3, whatever ran before in this process
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    yield endpoint
    server.stop()
