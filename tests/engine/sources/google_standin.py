"""A local stand-in for Google's OAuth token endpoint, Drive API v3 and Sheets API v4 on 127.0.0.1 — the subset
the gdrive_csv / google_sheets sources use. It is a test fixture, not a mock of our code: the real reader and
the real google-api-python-client / google-auth talk HTTP to it.

  POST /token                                     JWT-bearer grant: checks the assertion's signature with the
                                                  key pair's public key, returns an access token
  GET  /drive/v3/files?q='<id>' in parents ...    a folder's files (mimeType / trashed filters), paged by pageSize
  GET  /drive/v3/files/<id>[?alt=media]           metadata, or the content
  GET  /drive/v3/files/<id>/export?mimeType=text/csv   a Sheets file as CSV
  GET  /v4/spreadsheets/<id>                      sheets.properties (sheetId, title)
  GET  /v4/spreadsheets/<id>/values/<range>       'Title'[!A1:C3] -> {"values": rows}
Requests without the issued bearer token: 401. Every request is recorded in `requests` (path and headers).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@dataclass
class DriveFile:
    id: str
    name: str
    content: bytes = b""
    mime: str = "text/csv"
    modified: str = "2026-01-01T00:00:00.000Z"
    parents: tuple[str, ...] = ()
    trashed: bool = False


@dataclass
class Spreadsheet:
    id: str
    sheets: dict[str, tuple[int, list[list[Any]]]]  # title -> (sheetId, rows)
    csv: bytes = b""  # what a Drive export of the first sheet returns
    modified: str = "2026-01-01T00:00:00.000Z"


@dataclass
class GoogleStandIn:
    files: dict[str, DriveFile] = field(default_factory=dict)
    spreadsheets: dict[str, Spreadsheet] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                       key_size=2048))
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def key_file(self, folder: Path, token_uri: str | None = None, name: str = "service-account.json") -> Path:
        """A service-account key file (JSON) of this server's key pair; its token_uri is this server's."""
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        path = folder / name
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "acme", "private_key_id": "k1", "private_key": pem,
            "client_email": "reader@acme.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_uri or f"{self.url}/token"}))
        return path

    def start(self) -> GoogleStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def api_paths(self) -> list[str]:
        return [path for method, path, _ in self.requests if path != "/token"]

    # -- handlers ------------------------------------------------------------------------------------------
    def token(self, body: bytes) -> tuple[int, Any]:
        form = parse_qs(body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        header, claims, signature = form["assertion"][0].split(".")
        try:
            self.key.public_key().verify(_b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
        except Exception:  # noqa: BLE001 - any bad signature
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        token = "ya29.standin-" + secrets.token_hex(8)
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def drive(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path == "/drive/v3/files":
            folder = re.search(r"'([^']+)' in parents", params.get("q", ""))
            mime = re.search(r"mimeType = '([^']+)'", params.get("q", ""))
            found = [f for f in self.files.values() if folder and folder.group(1) in f.parents and not f.trashed
                     and (not mime or f.mime == mime.group(1))]
            found.sort(key=lambda f: f.id)
            start = int(params.get("pageToken") or 0)
            size = int(params.get("pageSize", 100))
            page: dict[str, Any] = {"files": [_meta(f) for f in found[start:start + size]]}
            if start + size < len(found):
                page["nextPageToken"] = str(start + size)
            return 200, page
        match = re.fullmatch(r"/drive/v3/files/([^/]+)(/export)?", path)
        if not match:
            return 404, {"error": {"code": 404, "message": "not found"}}
        file_id = match.group(1)
        if file_id in self.spreadsheets:
            sheet = self.spreadsheets[file_id]
            if match.group(2):
                return 200, sheet.csv
            return 200, {"id": sheet.id, "name": sheet.id, "mimeType": "application/vnd.google-apps.spreadsheet",
                         "modifiedTime": sheet.modified}
        if file_id not in self.files:
            return 404, {"error": {"code": 404, "message": f"File not found: {file_id}."}}
        file = self.files[file_id]
        return (200, file.content) if params.get("alt") == "media" else (200, _meta(file))

    def sheets(self, path: str) -> tuple[int, Any]:
        match = re.fullmatch(r"/v4/spreadsheets/([^/]+)(?:/values/(.+))?", path)
        if not match or match.group(1) not in self.spreadsheets:
            return 404, {"error": {"code": 404, "message": "Requested entity was not found."}}
        book = self.spreadsheets[match.group(1)]
        if match.group(2) is None:
            return 200, {"sheets": [{"properties": {"sheetId": sid, "title": title}}
                                    for title, (sid, _) in book.sheets.items()]}
        title, _, cells = unquote(match.group(2)).partition("!")
        title = title[1:-1].replace("''", "'") if title.startswith("'") else title
        if title not in book.sheets:
            return 400, {"error": {"code": 400, "message": f"Unable to parse range: {title}"}}
        rows = _cells(book.sheets[title][1], cells)
        return 200, {"range": match.group(2), "majorDimension": "ROWS", "values": rows}


def _meta(file: DriveFile) -> dict[str, Any]:
    return {"id": file.id, "name": file.name, "mimeType": file.mime, "modifiedTime": file.modified,
            "size": str(len(file.content))}


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _col(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch.upper()) - 64
    return number


def _cells(rows: list[list[Any]], a1: str) -> list[list[Any]]:
    """A1 ranges of the forms A1:C3, A2:C, A:C (what the tests use)."""
    if not a1:
        return rows
    match = re.fullmatch(r"([A-Z]+)(\d*):([A-Z]+)(\d*)", a1)
    assert match, a1
    c1, r1, c2, r2 = _col(match.group(1)), int(match.group(2) or 1), _col(match.group(3)), match.group(4)
    picked = rows[r1 - 1:int(r2) if r2 else None]
    return [row[c1 - 1:c2] for row in picked]


def _handler(api: GoogleStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/csv" if isinstance(body, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            api.requests.append(("POST", self.path, dict(self.headers)))
            self._answer(*(api.token(body) if self.path == "/token" else (404, {})))

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            api.requests.append(("GET", url.path, dict(self.headers)))
            if self.headers.get("Authorization", "").removeprefix("Bearer ") not in api.tokens:
                self._answer(401, {"error": {"code": 401, "message": "Request had invalid authentication "
                                             "credentials.", "status": "UNAUTHENTICATED"}})
                return
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path.startswith("/drive/"):
                self._answer(*api.drive(url.path, params))
            else:
                self._answer(*api.sheets(url.path))

    return Handler
