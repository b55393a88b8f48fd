"""A loopback stand-in for the part of OpenMetadata's REST API that `data_catalog:` uses; it records every
request (method, path, JSON body, Authorization header) and keeps the entities it was given.

  PUT /api/v1/services/databaseServices | /api/v1/databases | /api/v1/databaseSchemas | /api/v1/tables
      create-or-update by name; answers the entity with an id and its fullyQualifiedName
  GET /api/v1/users/name/<name>   the users in `users` (name -> id), else 404
  GET /api/v1/tags/name/<fqn>     the tags in `tags`, else 404
Without `Bearer <token>`: 401. `fail_tables = N` makes PUT /tables answer 500 (with N as the status if > 1).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PARENT = {"databases": "service", "databaseSchemas": "database", "tables": "databaseSchema"}


@dataclass
class OpenMetadataStandIn:
    token: str
    users: dict[str, str] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, Any, str]] = field(default_factory=list)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)  # fqn -> entity
    fail_tables: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api"

    def start(self) -> OpenMetadataStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def bodies(self, path: str) -> list[Any]:
        return [body for method, p, body, _ in self.requests if method == "PUT" and p == path]

    def put(self, kind: str, body: dict[str, Any]) -> tuple[int, Any]:
        if kind == "tables" and self.fail_tables:
            return 500, {"code": 500, "message": "table store unavailable"}
        parent = body.get(PARENT[kind], "") if kind in PARENT else ""
        fqn = f"{parent}.{body['name']}" if parent else body["name"]
        entity = {**self.entities.get(fqn, {"id": str(uuid.uuid4())}), **body, "fullyQualifiedName": fqn}
        self.entities[fqn] = entity
        return 200, entity


def _handler(api: OpenMetadataStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> tuple[Any, bool]:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length)) if length else None
            auth = self.headers.get("Authorization", "")
            api.requests.append((self.command, self.path, body, auth))
            return body, auth == f"Bearer {api.token}"

        def do_PUT(self) -> None:  # noqa: N802
            body, ok = self._record()
            kind = self.path.rsplit("/", 1)[-1]
            if not ok:
                self._answer(401, {"code": 401, "message": "Not authorized; token invalid"})
            elif self.path in ("/api/v1/services/databaseServices", "/api/v1/databases", "/api/v1/databaseSchemas",
                               "/api/v1/tables"):
                self._answer(*api.put(kind, body))
            else:
                self._answer(404, {"code": 404, "message": "unknown"})

        def do_GET(self) -> None:  # noqa: N802
            _, ok = self._record()
            name = self.path.removeprefix("/api/v1/users/name/")
            tag = self.path.removeprefix("/api/v1/tags/name/")
            if not ok:
                self._answer(401, {"code": 401, "message": "Not authorized; token invalid"})
            elif self.path.startswith("/api/v1/users/name/") and name in api.users:
                self._answer(200, {"id": api.users[name], "name": name})
            elif self.path.startswith("/api/v1/tags/name/") and tag in api.tags:
                self._answer(200, {"id": str(uuid.uuid4()), "fullyQualifiedName": tag})
            else:
                self._answer(404, {"code": 404, "message": f"user instance for {name} not found"})

    return Handler
