"""Paginated JSON APIs (generic `rest`, and the `stripe` / `hubspot` presets) read with dlt's REST client.

dlt does the paging (its paginators), the auth (its auth classes) and the retries: a `dlt...requests.Client` session
retries 429, 5xx and dropped connections up to `retry.attempts` times (job config) with exponential backoff, honouring
`Retry-After` (capped at `retry.max_delay_seconds`). The session is built without dlt's config injection, so no
`.dlt/*.toml`, env section or pipeline is consulted.

Schema: each read fixes a column's type when the column is first seen (dict/list values are JSON text, a column
seen only as null is text), so every batch of a read has the same types. Columns keep first-seen order; records
missing a key get null; a key first seen in a later batch is appended as an extra nullable column.

Incremental: with `incremental_param` the window's lower bound (the committed cursor, see window.py) is sent as
that query parameter, and records whose `cursor_field` is below it are dropped client-side (the HubSpot preset
relies on that alone: its list API cannot filter). Records equal to the cursor are read again (Stripe's `created`
has one-second resolution) and those already landed are dropped by their key (primary key, else the record),
so append mode lands each record once.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth, BearerTokenAuth, HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    BaseReferencePaginator,
    HeaderLinkPaginator,
    JSONResponseCursorPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
)
from requests.exceptions import ChunkedEncodingError, HTTPError, Timeout
from requests.exceptions import ConnectionError as RequestsConnectionError

from ...config.sources import Paginator, RestResource
from ...config.sources import RestSource as RestConfig
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ContractViolationError,
    PermanentError,
    SourceNotFoundError,
    TransientError,
)
from ..redaction import redact
from .base import Source, State, Stream

# dlt reads this when a dlt runtime starts (only `dlt.pipeline` runs start one; we never do): no phoning home.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


class LastItemPaginator(BaseReferencePaginator):
    """Stripe-style paging: the next page starts after the last record's id, while `has_more` is true."""

    def __init__(self, item_field: str = "id", param: str = "starting_after", has_more_field: str = "has_more"):
        super().__init__()
        self.item_field, self.param, self.has_more_field = item_field, param, has_more_field

    def update_state(self, response: Any, data: list[Any] | None = None) -> None:
        more = bool(data) and response.json().get(self.has_more_field)
        self._next_reference = str(data[-1][self.item_field]) if data and more else None

    def update_request(self, request: Any) -> None:
        request.params = {**(request.params or {}), self.param: self._next_reference}


# Presets fill whatever the job leaves unset (explicitly set fields, even `null`, win).
PRESETS: dict[str, dict[str, Any]] = {
    "stripe": {"base_url": "https://api.stripe.com", "new_paginator": LastItemPaginator,
               "resource": {"data_selector": "data", "params": {"limit": 100}, "incremental_param": "created[gte]",
                            "cursor_field": "created", "primary_key": ["id"]}},
    "hubspot": {"base_url": "https://api.hubapi.com",
                "resource": {"data_selector": "results", "params": {"limit": 100}, "cursor_field": "updatedAt",
                             "primary_key": ["id"], "paginator": Paginator(type="cursor", cursor_path="paging.next.after",
                                                                          cursor_param="after")}},
}


class _RedactingFilter(logging.Filter):
    """Masks registered secrets in the HTTP stack's log records (urllib3 logs whole URLs, query keys included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if (clean := redact(message)) != message:
            record.msg, record.args = clean, None
        return True


for _logger in (logging.getLogger("urllib3.connectionpool"), logging.getLogger("dlt")):
    if not any(isinstance(f, _RedactingFilter) for f in _logger.filters):
        _logger.addFilter(_RedactingFilter())


class RestSource(Source):
    types = ("rest", "stripe", "hubspot")
    config: RestConfig

    def __init__(self, config: RestConfig, base_dir: Any):
        super().__init__(config, base_dir)
        self.retry = config.retry
        self.preset = PRESETS.get(config.type, {})
        self.base_url = config.base_url if "base_url" in config.model_fields_set else self.preset.get("base_url")
        if not self.base_url:
            raise ConfigurationError(f"source type {config.type!r} needs `base_url`")
        self.resources = {r.object: self._with_preset(r) for r in config.resources}
        self._client: RESTClient | None = None

    def _with_preset(self, resource: RestResource) -> RestResource:
        defaults = self.preset.get("resource", {})
        update = {k: v for k, v in defaults.items() if k not in resource.model_fields_set}
        update["params"] = {**defaults.get("params", {}), **resource.params}
        return resource.model_copy(update=update)

    def streams(self) -> list[Stream]:
        return [Stream(object=r.object, cursor_field=r.cursor_field, primary_key=tuple(r.primary_key))
                for r in self.resources.values()]

    def _auth(self) -> Any:
        auth = self.config.auth
        if auth is None:
            return None
        if auth.type == "basic":  # the config model requires username and password for basic
            assert auth.username is not None and auth.password is not None
            return HttpBasicAuth(username=auth.username, password=auth.password.resolve(self.base_dir))
        assert auth.token is not None  # the config model requires a token for bearer and api_key
        token = auth.token.resolve(self.base_dir)
        if auth.type == "bearer":
            return BearerTokenAuth(token=token)
        return APIKeyAuth(name=auth.name, api_key=token, location=auth.location)

    def client(self) -> RESTClient:
        if self._client is None:
            # Client.__init__ is wrapped by dlt's config injection (reads .dlt/*.toml, env sections, probes for
            # Airflow): call the undecorated constructor with every setting explicit instead.
            retrying = Client.__new__(Client)
            inspect.unwrap(Client.__init__)(
                retrying, request_timeout=self.config.timeout_seconds, raise_for_status=False,
                request_max_attempts=self.retry.attempts, request_backoff_factor=self.retry.backoff_seconds,
                request_max_retry_delay=self.retry.max_delay_seconds, respect_retry_after_header=True)
            session = retrying.session
            session.send = _decoding_once(session.send)  # type: ignore[method-assign]  # wrapped per instance
            self._client = RESTClient(base_url=self.base_url or "", headers=dict(self.config.headers), auth=self._auth(),
                                      session=session, config=RuntimeConfiguration())
        return self._client

    def _paginator(self, resource: RestResource, params: dict[str, Any]) -> BasePaginator:
        p = resource.paginator
        if p is None:
            factory = self.preset.get("new_paginator")
            return factory() if factory else SinglePagePaginator()
        if p.limit and p.type != "offset":
            params.setdefault(p.limit_param, p.limit)
        if p.type == "cursor":
            return JSONResponseCursorPaginator(cursor_path=p.cursor_path or "cursors.next",
                                               cursor_param=p.cursor_param or "cursor", has_more_path=p.has_more_path)
        if p.type == "offset":
            return OffsetPaginator(limit=p.limit or 100, offset_param=p.offset_param, limit_param=p.limit_param,
                                   total_path=p.total_path, has_more_path=p.has_more_path)
        if p.type == "page_number":
            return PageNumberPaginator(base_page=1, page_param=p.page_param, total_path=p.total_path,
                                       has_more_path=p.has_more_path)
        return HeaderLinkPaginator() if p.type == "header_link" else SinglePagePaginator()

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        resource = self.resources[stream.object]
        window = self.window(stream, state, legacy_inclusive=True) if resource.cursor_field else None
        bound = window.lower_bound() if window else None
        params: dict[str, Any] = dict(resource.params)
        if resource.incremental_param and bound is not None:
            cursor = bound[0]
            params[resource.incremental_param] = cursor.isoformat() if hasattr(cursor, "isoformat") else cursor
        paginator = self._paginator(resource, params)
        pages = self.client().paginate(resource.path, params=params, paginator=paginator,
                                       data_selector=resource.data_selector or "$")
        columns, size = _Columns(stream.object), self.config.batch_rows
        rows: list[dict[str, Any]] = []
        for page in self._guarded(pages, stream.object, resource.path):
            records = [r if isinstance(r, dict) else {"value": r} for r in page]
            rows.extend(records if window is None else
                        (r for r in records if window.admits(r.get(resource.cursor_field or ""))))
            while len(rows) >= size:
                yield from _nonempty(columns.batch(rows[:size]), window)
                del rows[:size]
        if rows:
            yield from _nonempty(columns.batch(rows), window)

    def _guarded(self, pages: Iterator[Any], name: str, path: str) -> Iterator[Any]:
        """Pages, with HTTP and network failures turned into engine errors naming the object and URL path only."""
        try:
            yield from pages
        except HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            where = f"{name}: HTTP {status} from {_path(exc.response.url if exc.response is not None else path)}"
            if status in (401, 403):
                raise AuthenticationError(f"{where}: credentials refused", hint="check source.auth") from None
            if status == 404:
                raise SourceNotFoundError(f"{where}: no such endpoint", hint="check base_url and resources[].path") \
                    from None
            if status == 429 or status >= 500:
                raise TransientError(f"{where} after {self.retry.attempts} attempts") from None
            raise ConfigurationError(f"{where}: request rejected", hint="check resources[].params") from None
        except (RequestsConnectionError, Timeout, ChunkedEncodingError) as exc:
            url = getattr(exc.request, "url", None) or (self.base_url or "").rstrip("/") + "/" + path.lstrip("/")
            raise TransientError(f"{name}: cannot reach {_path(url, host=True)} after {self.retry.attempts} "
                                 f"attempts ({type(exc).__name__})") from None
        except ValueError as exc:  # body is not JSON, or the paginator cannot find its fields
            if any(cls.__name__ == "JSONDecodeError" for cls in type(exc).__mro__):  # json's, simplejson's, requests'
                raise TransientError(f"{name}: invalid JSON in a page from {path} ({redact(str(exc))[:200]})",
                                     hint="the API sent a truncated or invalid body; the run is retried") from None
            raise PermanentError(f"{name}: unexpected response from {path}: {redact(str(exc))[:300]}",
                                 hint="check data_selector and paginator") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None


def _decoding_once(send: Any) -> Any:
    """Wrap a session's `send` so that each response's body is JSON-decoded once: dlt's client decodes it for the
    records and again in the paginator (cursor, total, has_more), which doubled the decoding time of a page.
    (orjson was measured 1.3x faster on the benchmark's pages but reads integers beyond 64 bits as floats,
    silently rounding them: requests' decoder stays.)"""
    def send_once(request: Any, **kwargs: Any) -> Any:
        response = send(request, **kwargs)
        decode = response.json
        decoded: list[Any] = []

        def json_once(**options: Any) -> Any:
            if options:
                return decode(**options)
            if not decoded:
                decoded.append(decode())
            return decoded[0]

        response.json = json_once
        return response

    return send_once


def _path(url: str, host: bool = False) -> str:
    """The URL without query string and credentials (queries may carry api keys and cursors)."""
    parts = urlsplit(url)
    return redact((f"{parts.hostname}:{parts.port}" if host and parts.hostname else "") + (parts.path or "/"))


def _nonempty(batch: pa.RecordBatch, window: Any) -> Iterator[pa.RecordBatch]:
    """The batch without the records already landed (window.py), unless none are left."""
    batch = window.admit(batch) if window is not None else batch
    if batch.num_rows:
        yield batch


def _text(values: list[Any]) -> list[str | None]:
    return [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]


class _Columns:
    """Types and column order fixed at first sighting, so the batches of one read share one schema."""

    def __init__(self, name: str):
        self.name = name
        self.types: dict[str, pa.DataType | None] = {}

    def batch(self, records: list[dict[str, Any]]) -> pa.RecordBatch:
        seen = self.types.keys()
        known_only = bool(self.types)
        for record in records:
            if not seen >= record.keys():  # a set comparison in C; a new key is rare
                known_only = False
                for key in record:
                    self.types.setdefault(key, None)
        if known_only and None not in self.types.values():
            typed = self._typed(records)
            if typed is not None:
                return typed
        arrays = []
        for column, known in self.types.items():
            values = [record.get(column) for record in records]  # measured faster than a zip(*...) transpose
            try:  # one pass over the values; nested ones (rare) are turned into JSON text in a second
                array = self._array(column, values, known)
            except ContractViolationError:
                array = None
            if array is None or pa.types.is_nested(array.type):
                values = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for v in values]
                array = self._array(column, values, known)
            arrays.append(array)
            self.types[column] = array.type
        return pa.RecordBatch.from_arrays(arrays, names=list(self.types))

    def _typed(self, records: list[dict[str, Any]]) -> pa.RecordBatch | None:
        """Once every column's type is fixed and no record brings a new key: all columns in one conversion in
        C++ (about half the time of a Python list per column). None when a value does not fit its column's type:
        the column-by-column path then applies the same rules as for the first batch (text, or a violation)."""
        struct = pa.struct([pa.field(name, t) for name, t in self.types.items() if t is not None])
        try:
            return pa.RecordBatch.from_struct_array(pa.array(records, type=struct))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return None

    def _array(self, column: str, values: list[Any], known: pa.DataType | None) -> pa.Array:
        if known is None:
            try:
                array = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed scalar types: keep them as text
                return pa.array(_text(values), pa.string())
            return pa.array(values, pa.string()) if pa.types.is_null(array.type) else array
        if pa.types.is_string(known):
            try:  # all str or None: no per-value Python pass
                return pa.array(values, pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return pa.array(_text(values), pa.string())
        try:
            return pa.array(values, known)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise ContractViolationError(f"{self.name}: field {column!r} was {known} in earlier pages, now {kinds}",
                                         hint="the API returns mixed types for this field") from None
