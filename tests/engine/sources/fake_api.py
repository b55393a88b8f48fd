"""A local HTTP API imitating the paging styles the REST source supports, on 127.0.0.1 (no mocks).

Endpoints (N = len(api.records) unless said otherwise):
  GET /v1/customers              Stripe list API: limit, starting_after=<id>, created[gte]; bearer token.
                                 Newest first, like Stripe: {"object": "list", "data": [...], "has_more": bool}.
  GET /crm/v3/objects/contacts   HubSpot list API: limit, after=<opaque>; bearer token; ignores other filters.
                                 {"results": [...], "paging": {"next": {"after": "..."}}} (no paging on the last page)
  GET /offset/items              offset, limit -> {"items": [...], "total": N}; api key in header X-Api-Key.
  GET /pages/items               page (1-based), per_page -> {"results": [...], "total_pages": P}; basic auth.
  GET /link/items                page, per_page -> a JSON list, `Link: <...>; rel="next"`; api key in query api_key.
  GET /raw                       `api.raw` as-is (a JSON list); no auth.
Anything else: 404. Bad or missing credentials: 401. `api.fail(status, times, retry_after)` makes the next `times`
requests (any path) answer `status` first. Every request is recorded in `api.requests`.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "sk_test_CANARY_7f3a9c1e5b"  # bearer token (Stripe, HubSpot)
API_KEY = "apikey-CANARY-0d8e2f4a"  # api key (offset: header, link: query)
USER, PASSWORD = "reader", "pw-CANARY-91b7c3"
BASE_CREATED = 1_700_000_000


def customer(i: int) -> dict[str, Any]:
    """Stripe-like record: nested metadata, an object or null, a list."""
    return {"id": f"cus_{i:05d}", "object": "customer", "created": BASE_CREATED + i, "email": f"c{i}@example.com",
            "balance": i * 7, "metadata": {"n": str(i)}, "address": {"city": f"City {i}"} if i % 4 else None,
            "tags": [f"t{i % 3}"], "delinquent": i % 5 == 0}


def contact(i: int) -> dict[str, Any]:
    return {"id": str(i), "properties": {"email": f"c{i}@example.com", "firstname": f"F{i}"},
            "createdAt": f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
            "updatedAt": f"2024-02-{1 + i // 3600:02d}T{i // 60 % 60:02d}:{i % 60:02d}:00.000Z", "archived": False}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing kept-alive connections are normal here; report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeApi:
    count: int = 537
    raw: list[Any] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, status: int, times: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def start(self) -> "FakeApi":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                with api._lock:
                    api.requests.append(Request("GET", parts.path, params, dict(self.headers.items())))
                    failure = api._failures.pop(0) if api._failures else None
                if failure:
                    status, retry_after = failure
                    self._send(status, {"error": "try later"}, {"Retry-After": retry_after} if retry_after else {})
                    return
                status, body, headers = api.answer(parts.path, params, self.headers)
                self._send(status, body, headers)

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, path: str, params: dict[str, str], headers: Any) -> tuple[int, Any, dict[str, str]]:
        unauthorized = (401, {"error": {"message": "Invalid credentials"}}, {})
        bearer = headers.get("Authorization") == f"Bearer {TOKEN}"
        if path == "/v1/customers":
            if not bearer:
                return unauthorized
            rows = [customer(i) for i in reversed(range(self.count))]  # newest first
            if "created[gte]" in params:
                rows = [r for r in rows if r["created"] >= int(params["created[gte]"])]
            if "starting_after" in params:
                ids = [r["id"] for r in rows]
                rows = rows[ids.index(params["starting_after"]) + 1:]
            limit = int(params.get("limit", 10))
            return 200, {"object": "list", "url": path, "data": rows[:limit], "has_more": len(rows) > limit}, {}
        if path == "/crm/v3/objects/contacts":
            if not bearer:
                return unauthorized
            start, limit = int(params.get("after", 0)), int(params.get("limit", 10))
            body: dict[str, Any] = {"results": [contact(i) for i in range(start, min(start + limit, self.count))]}
            if start + limit < self.count:
                body["paging"] = {"next": {"after": str(start + limit), "link": "..."}}
            return 200, body, {}
        if path == "/offset/items":
            if headers.get("X-Api-Key") != API_KEY:
                return unauthorized
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", 10))
            items = [{"id": i, "name": f"item {i}"} for i in range(offset, min(offset + limit, self.count))]
            return 200, {"items": items, "total": self.count}, {}
        if path == "/pages/items":
            basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if headers.get("Authorization") != basic:
                return unauthorized
            page, per_page = int(params.get("page", 1)), int(params.get("per_page", 10))
            first = (page - 1) * per_page
            items = [{"id": i, "score": i / 4} for i in range(first, min(first + per_page, self.count))]
            return 200, {"results": items, "page": page, "total_pages": -(-self.count // per_page)}, {}
        if path == "/link/items":
            if params.get("api_key") != API_KEY:
                return unauthorized
            page, per_page = int(params.get("page", 1)), int(params.get("per_page", 10))
            first = (page - 1) * per_page
            extra = {}
            if first + per_page < self.count:
                extra["Link"] = f'<{self.url}/link/items?{urlencode({"page": page + 1, "per_page": per_page})}>; rel="next"'
            return 200, [{"id": i} for i in range(first, min(first + per_page, self.count))], extra
        if path == "/raw":
            return 200, self.raw, {}
        return 404, {"error": "not found"}, {}
