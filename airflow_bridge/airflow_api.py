"""A small client for Airflow 3's REST API v2 with SimpleAuthManager / JWT token auth."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass
class AirflowApi:
    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str | None = None, password: str | None = None) -> AirflowApi:
        """Token auth: POST /auth/token. Credentials from arguments, AIRFLOW_USERNAME/AIRFLOW_PASSWORD, or the
        passwords file `airflow standalone` writes into $AIRFLOW_HOME."""
        username = username or os.environ.get("AIRFLOW_USERNAME", "admin")
        password = password or os.environ.get("AIRFLOW_PASSWORD") or _generated_password(username)
        if password is None:
            raise PermissionError(f"no password for Airflow user {username!r}: set AIRFLOW_PASSWORD or pass --password")
        try:
            response = requests.post(f"{base_url.rstrip('/')}/auth/token",
                                     json={"username": username, "password": password}, timeout=30)
        except requests.ConnectionError:
            raise ConnectionError(f"Airflow API at {base_url} is not reachable") from None
        if response.status_code >= 400:
            raise PermissionError(f"Airflow at {base_url} refused the login of {username!r} (HTTP {response.status_code})")
        return cls(base_url.rstrip("/"), response.json()["access_token"])

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.base_url}/api/v2{path}", timeout=30,
                                headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def get(self, path: str) -> dict | None:
        response = self._request("GET", path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def upsert_pool(self, name: str, slots: int, description: str) -> str:
        """Create or update a pool; returns 'created', 'updated' or 'unchanged'."""
        current = self.get(f"/pools/{name}")
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        if current is None:
            self._request("POST", "/pools", json=body).raise_for_status()
            return "created"
        if current.get("slots") == slots:
            return "unchanged"
        self._request("PATCH", f"/pools/{name}", json=body).raise_for_status()
        return "updated"


def _generated_password(username: str) -> str | None:
    from dativo_defs.config.paths import dativo_home

    home = Path(os.environ.get("AIRFLOW_HOME") or dativo_home() / "airflow")  # the project-local default
    for name in ("simple_auth_manager_passwords.json.generated", "simple_auth_manager_passwords.json"):
        path = home / name
        if path.exists():
            return json.loads(path.read_text()).get(username)
    return None
