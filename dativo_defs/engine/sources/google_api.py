"""Google API clients for the Drive and Sheets sources: service-account credentials, one authorised client per
API, and Google's errors mapped to dativo's (one table).

The clients are google-api-python-client's, built from the discovery documents shipped with the library
(`static_discovery=True`: no discovery request). `drive_endpoint` / `sheets_endpoint` replace the API's base URL
(a private endpoint, or a local stand-in in tests); the OAuth token URL comes from the key file (`token_uri`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from ...config.secrets import SecretNotAvailable, SecretRef
from ...config.sources import GoogleDriveSource, GoogleSheetsSource
from ..errors import AuthenticationError, ConfigurationError, PermanentError, SourceNotFoundError, TransientError

DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
SHEETS_READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
REQUEST_RETRIES = 3  # google-api-python-client's own retries of 429 / 5xx / dropped connections, per request
INSTALL_HINT = "pip install google-api-python-client google-auth (pinned in constraints.txt)"


class Probe(NamedTuple):
    """What `dativo check` reports for a source (as a reader plugin's ConnectionTestResult)."""

    success: bool
    message: str


def credentials(config: GoogleDriveSource | GoogleSheetsSource, base_dir: Path, scopes: list[str]) -> Any:
    """Service-account credentials from `config.credentials`, else the file named by $GOOGLE_APPLICATION_CREDENTIALS.
    A missing or unreadable key is a ConfigurationError naming where it was looked for (never its content)."""
    try:
        from google.oauth2 import service_account
    except ImportError:
        raise ConfigurationError("the Google sources need google-api-python-client and google-auth",
                                 hint=INSTALL_HINT) from None
    ref = config.credentials
    where = "source.credentials"
    if ref is None:
        if not os.environ.get(CREDENTIALS_ENV):
            raise ConfigurationError(f"{config.type}: no service-account key: set `source.credentials` "
                                     f"({{file: path/to/key.json}}) or ${CREDENTIALS_ENV}",
                                     hint="create a key for a service account and share the files with its email")
        ref, where = SecretRef(file=os.environ[CREDENTIALS_ENV]), f"${CREDENTIALS_ENV}"
    try:
        info = json.loads(ref.resolve(base_dir))
    except SecretNotAvailable as exc:
        raise ConfigurationError(f"{config.type}: {where}: {exc}",
                                 hint="the service-account key file (JSON) must exist where the job runs") from None
    except ValueError:
        raise ConfigurationError(f"{config.type}: {where} ({ref.describe()}) is not JSON",
                                 hint="give the service-account key file Google issued (JSON)") from None
    if isinstance(info, dict) and isinstance(info.get("private_key"), str):
        from ..redaction import register_secret

        register_secret(info["private_key"])  # masked on its own too, not only as part of the whole key file
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except (ValueError, KeyError) as exc:  # the library names the missing field, never a value
        raise ConfigurationError(f"{config.type}: {where} ({ref.describe()}) is not a service-account key: "
                                 f"{type(exc).__name__}: {exc}", hint="give a key of type service_account") from None


def client(api: str, version: str, creds: Any, endpoint: str | None, timeout: float) -> Any:
    """An authorised client of `api` (`drive` v3, `sheets` v4), on `endpoint` when given."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=timeout))
    options = {"api_endpoint": endpoint.rstrip("/") + "/"} if endpoint else None
    return build(api, version, http=http, client_options=options, static_discovery=True, cache_discovery=False)


@contextmanager
def google_errors(what: str) -> Iterator[None]:
    """Google's exceptions as dativo's: auth -> AuthenticationError, 404 -> SourceNotFoundError, 429/5xx (after the
    client's retries) -> TransientError, other HTTP errors -> PermanentError. `what` names the file or sheet."""
    from google.auth.exceptions import RefreshError, TransportError
    from googleapiclient.errors import HttpError

    try:
        yield
    except HttpError as exc:
        status = int(exc.resp.status)
        reason = exc.reason if isinstance(exc.reason, str) else str(exc.reason)
        message = f"{what}: Google API answered {status}: {reason}"
        if status in (401, 403):
            raise AuthenticationError(message, hint="share the file with the service account's email and enable "
                                      "the Drive / Sheets API for its project") from None
        if status == 404:
            raise SourceNotFoundError(message, hint="check the id (and that the service account can see it)") from None
        if status == 429 or status >= 500:
            raise TransientError(message) from None
        raise PermanentError(message) from None
    except RefreshError as exc:
        # exc.args[0] is Google's error text (e.g. "invalid_grant: ..."), never the key
        raise AuthenticationError(f"{what}: the service-account token was refused: {exc.args[0] if exc.args else ''}",
                                  hint="check the key (revoked? wrong project?) and the token_uri") from None
    except TransportError as exc:
        raise TransientError(f"{what}: cannot reach Google's token endpoint: {exc}") from None


def modified_epoch(text: str | None) -> float:
    """Drive's `modifiedTime` (RFC 3339, UTC) as epoch seconds; 0.0 when absent."""
    if not text:
        return 0.0
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
