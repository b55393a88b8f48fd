"""Upstream Python reader plugins (`source.custom_reader: /app/plugins/x.py:Class`, a BaseReader subclass from
`dativo_ingest.plugins`) run on dativo's Source seam with upstream's meaning: the plugin is built with its
`source_config` (connection, credentials, engine options, objects) and every batch of its `extract()` lands in
the asset's table. The fixture plugin is written in the shape of upstream's examples/plugins/json_api_reader.py
(a paged JSON API with a bearer token), served by a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.config.warnings import job_warnings
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job
from tests.engine.helpers import read_iceberg

from .project import job, upstream_project, write

TOKEN = "plugin-s3cr3t-token"
ROWS = {"users": [{"id": i, "name": f"user{i}"} for i in range(1, 8)],
        "orders": [{"id": 100 + i, "name": f"order{i}"} for i in range(1, 4)]}

PLUGIN = '''
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent.parent / "src"))  # as upstream's examples do

from dativo_ingest.plugins import BaseReader, ConnectionTestResult, DiscoveryResult
from dativo_ingest.validator import IncrementalStateManager


class PagedApiReader(BaseReader):
    __version__ = "1.0.0"

    def __init__(self, source_config):
        super().__init__(source_config)
        self.base_url = source_config.connection.get("base_url", "")
        self.token = source_config.credentials.get("token") if source_config.credentials else None
        options = source_config.engine.get("options", {}) if source_config.engine else {}
        self.page_size = options.get("page_size", 100)

    def check_connection(self):
        request = urllib.request.Request(f"{self.base_url}/users?page=1&page_size=1",
                                         headers={"Authorization": f"Bearer {self.token}"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as exc:
            return ConnectionTestResult(success=False, message=f"Authentication failed ({exc.code})",
                                        error_code="AUTH_FAILED")
        return ConnectionTestResult(success=True, message="API connection successful")

    def discover(self):
        return DiscoveryResult(objects=[{"name": n, "type": "endpoint"} for n in self.source_config.objects or []])

    def extract(self, state_manager: IncrementalStateManager = None):
        for name in self.source_config.objects or []:
            page = 1
            while True:
                request = urllib.request.Request(f"{self.base_url}/{name}?page={page}&page_size={self.page_size}",
                                                 headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    data = json.loads(response.read())
                if not data["items"]:
                    break
                yield data["items"]
                if not data["has_next"]:
                    break
                page += 1
'''

ASSET = """
    asset:
      name: api_records
      source_type: custom_api
      object: records
      version: "1.0"
      schema:
        - {name: id, type: integer, required: true}
        - {name: name, type: string, required: true}
      governance: {owner: api@acme.test}
"""

JOB = """
    tenant_id: acme
    environment: prod
    source_connector: custom_api
    source_connector_path: /app/connectors/csv.yaml
    target_connector: iceberg
    target_connector_path: /app/connectors/iceberg.yaml
    asset: api_records
    asset_path: /app/assets/api_records.yaml
    source:
      custom_reader: "/app/plugins/{module}.py:{cls}"
      connection: {{base_url: "{url}", timeout: 30}}
      credentials: {{token: "${{API_TOKEN}}"}}
      engine: {{options: {{page_size: 3, max_pages: null}}}}
      objects: [users, orders]
    target:
      warehouse: /app/lake
"""


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        url = urlparse(self.path)
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        rows = ROWS.get(url.path.strip("/"), [])
        start = (query["page"] - 1) * query["page_size"]
        body = json.dumps({"items": rows[start:start + query["page_size"]],
                           "has_next": start + query["page_size"] < len(rows)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    root = upstream_project(tmp_path / "app")
    write(root / "assets/api_records.yaml", ASSET)
    write(root / "plugins/api_reader.py", PLUGIN)
    return root


def test_python_reader_plugin_job_lands_every_record_in_the_assets_table(app: Path, api: str, tmp_path: Path) -> None:
    loaded = load_job(job(app, "jobs/acme/api.yaml", JOB.format(module="api_reader", cls="PagedApiReader", url=api)))
    source = loaded.config.source
    assert (source.type, source.object, source.plugin) == ("upstream_plugin", "api_records",
                                                           f"{app / 'plugins/api_reader.py'}:PagedApiReader")
    assert source.plugin_objects == ["users", "orders"] and source.engine == {"options": {"page_size": 3, "max_pages": None}}
    assert TOKEN not in repr(loaded.config)  # credentials are secrets: never printed
    result = run_job(loaded, RunContext())
    assert result.status.value == "success", result.error
    table = read_iceberg(tmp_path / "home", "acme.api_records")
    expected = [r["id"] for rows in ROWS.values() for r in rows]
    assert table.num_rows == len(expected) and sorted(table.column("id").to_pylist()) == sorted(expected)
    assert dict(zip(table.column("id").to_pylist(), table.column("name").to_pylist())) == {
        r["id"]: r["name"] for rows in ROWS.values() for r in rows}
    assert set(table.column("ingest_date").to_pylist()) and None not in table.column("ingest_date").to_pylist()


def test_a_refused_token_fails_the_run_without_printing_it(app: Path, api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "wrong-token-value")
    loaded = load_job(job(app, "jobs/acme/api.yaml", JOB.format(module="api_reader", cls="PagedApiReader", url=api)))
    result = run_job(loaded, RunContext())
    assert result.status.value == "failed" and result.exit_code == 2 and "401" in result.error
    assert "wrong-token-value" not in json.dumps(result.to_dict(), default=str)


@pytest.mark.parametrize("module, cls, words", [
    ("api_reader", "Missing", "Missing is not found"),
    ("not_a_reader", "Thing", "Thing is not a BaseReader subclass"),
])
def test_a_plugin_class_that_is_not_a_reader_fails_permanently_naming_it(app: Path, api: str, module, cls, words) -> None:
    write(app / "plugins/not_a_reader.py", "class Thing:\n    pass\n")
    result = run_job(load_job(job(app, "jobs/acme/api.yaml", JOB.format(module=module, cls=cls, url=api))), RunContext())
    assert result.status.value == "failed" and result.error_kind == "permanent"
    assert words in result.error and "BaseReader subclass" in result.error


def test_a_missing_plugin_file_is_a_validate_warning_and_fails_the_run_naming_the_field(app: Path, api: str) -> None:
    """Upstream looks for the plugin when the run builds it (a deployment may add it after the job file): the
    file loads, `dativo validate` warns, and the run fails permanently naming the field and the file."""
    loaded = load_job(job(app, "jobs/acme/api.yaml", JOB.format(module="nowhere", cls="R", url=api)))
    (warning,) = job_warnings(loaded)
    assert "source.custom_reader" in warning and "plugins/nowhere.py not found now" in warning
    result = run_job(loaded, RunContext())
    assert result.status.value == "failed" and result.error_kind == "permanent"
    assert "source.custom_reader: reader plugin" in result.error and "plugins/nowhere.py not found" in result.error


def test_check_and_discover_use_the_plugins_own_methods(app: Path, api: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    job(app, "jobs/acme/api.yaml", JOB.format(module="api_reader", cls="PagedApiReader", url=api))
    repo = Path(__file__).resolve().parents[2]

    def cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(repo), "API_TOKEN": token}
        return subprocess.run([sys.executable, "-m", "dativo_ingest.cli", *args], cwd=app, env=env,
                              capture_output=True, text=True, timeout=300)

    checked = cli("check", "--config", "jobs/acme/api.yaml", "--json")
    source = [c for c in json.loads(checked.stdout)["checks"] if c["name"] == "source"]
    assert checked.returncode == 0 and source == [{"name": "source", "ok": True, "detail": "API connection successful"}]
    refused = cli("check", "--config", "jobs/acme/api.yaml", "--json", token="bad-token-value")
    report = json.loads(refused.stdout)
    assert refused.returncode == 2 and not report["ok"] and "Authentication failed (401)" in refused.stdout
    assert "bad-token-value" not in refused.stdout + refused.stderr
    listed = cli("discover", "--config", "jobs/acme/api.yaml")
    assert listed.returncode == 0 and listed.stdout.split() == ["users", "orders"], listed.stderr[-1500:]
