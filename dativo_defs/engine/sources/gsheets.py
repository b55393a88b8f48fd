"""Google Sheets ranges (`google_sheets`), through the Sheets API v4 `spreadsheets.values.get`.

Values are read unformatted (numbers as numbers, booleans as booleans) with dates and times as their formatted
text, so a contract's `date` / `timestamp` columns parse them. A column whose cells mix kinds lands as text. The
first row names the columns (`header: true`); a sheet given by `sheet_id` (gid) is looked up by
`spreadsheets.get`. Incremental (`file_modified_time`): a spreadsheet is read again, wholly, only when its Drive
`modifiedTime` changed since it last landed — as upstream's `spreadsheet_modified_time`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ...config.sources import GoogleSheetsSource as SheetsConfig
from ...config.sources import IncrementalStrategy, Sheet
from ..errors import SourceNotFoundError
from .base import CursorTracker, Source, State, Stream
from .google_api import DRIVE_READONLY, SHEETS_READONLY, Probe, client, credentials, google_errors, modified_epoch
from .landed import LandedFiles, ListedFile, identity


class GoogleSheetsSource(Source):
    types = ("google_sheets",)
    config: SheetsConfig

    def __init__(self, config: SheetsConfig, base_dir: Any):
        super().__init__(config, base_dir)
        self._clients: dict[str, Any] = {}
        self._listed: dict[str, tuple[LandedFiles, ListedFile]] = {}

    def _client(self, api: str) -> Any:
        if api not in self._clients:
            scopes = [SHEETS_READONLY, DRIVE_READONLY] if self.config.incremental else [SHEETS_READONLY]
            creds = credentials(self.config, self.base_dir, scopes)
            if api == "sheets":
                self._clients[api] = client("sheets", "v4", creds, self.config.sheets_endpoint,
                                            self.config.timeout_seconds)
            else:
                self._clients[api] = client("drive", "v3", creds, self.config.drive_endpoint,
                                            self.config.timeout_seconds)
        return self._clients[api]

    def _incremental(self) -> bool:
        inc = self.config.incremental
        return inc is not None and inc.enabled and inc.strategy is IncrementalStrategy.FILE_MODIFIED_TIME

    def streams(self) -> list[Stream]:
        return [Stream(object=s.object) for s in self.config.sheets]

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        spec = self.config.sheets[self.config.objects().index(stream.object)]
        what = f"{stream.object}: spreadsheet {spec.spreadsheet_id}"
        if self._incremental():
            with google_errors(what):
                meta = self._client("drive").files().get(fileId=spec.spreadsheet_id, fields="id, modifiedTime",
                                                         supportsAllDrives=True).execute(num_retries=3)
            mtime = modified_epoch(meta.get("modifiedTime"))
            listed = ListedFile(spec.spreadsheet_id, mtime,
                                identity(f"{spec.spreadsheet_id}#{_a1(spec, '')}", {}, mtime))
            landed = LandedFiles(state)
            if landed.is_landed(listed):
                return
            self._listed[stream.object] = (landed, listed)
        sheets = self._client("sheets").spreadsheets()
        with google_errors(what):
            title = spec.sheet if spec.sheet is not None else self._title(sheets, spec, what)
            values = sheets.values().get(spreadsheetId=spec.spreadsheet_id, range=_a1(spec, title),
                                         majorDimension="ROWS", valueRenderOption="UNFORMATTED_VALUE",
                                         dateTimeRenderOption="FORMATTED_STRING").execute(num_retries=3)
        rows: list[list[Any]] = values.get("values", [])
        if spec.header and rows:
            names, rows = _names([str(c) for c in rows[0]]), rows[1:]
        else:
            names = [f"column_{i + 1}" for i in range(max((len(r) for r in rows), default=0))]
        for start in range(0, len(rows), self.config.batch_rows):
            yield _batch(names, rows[start:start + self.config.batch_rows])

    def _title(self, sheets: Any, spec: Sheet, what: str) -> str:
        """The title of the sheet with id `spec.sheet_id`, or of the first sheet."""
        found = sheets.get(spreadsheetId=spec.spreadsheet_id, fields="sheets.properties(sheetId,title)",
                           includeGridData=False).execute(num_retries=3)
        props = [s.get("properties", {}) for s in found.get("sheets", [])]
        if spec.sheet_id is None and props:
            return str(props[0]["title"])
        for prop in props:
            if prop.get("sheetId") == spec.sheet_id:
                return str(prop["title"])
        known = ", ".join(f"{p.get('sheetId')}={p.get('title')!r}" for p in props) or "none"
        raise SourceNotFoundError(f"{what} has no sheet with sheet_id {spec.sheet_id}", hint=f"its sheets: {known}")

    def close(self) -> None:
        for api in list(self._clients):
            self._clients.pop(api).close()  # the client's HTTP connections

    def check_connection(self) -> Probe:
        """`dativo check`: the key is accepted and every spreadsheet (and sheet) is visible."""
        sheets = self._client("sheets").spreadsheets()
        for spec in self.config.sheets:
            what = f"{spec.object}: spreadsheet {spec.spreadsheet_id}"
            with google_errors(what):
                if spec.sheet is None:
                    self._title(sheets, spec, what)
                else:
                    sheets.get(spreadsheetId=spec.spreadsheet_id, fields="spreadsheetId").execute(num_retries=3)
        return Probe(True, f"{len(self.config.sheets)} sheet(s) visible to the service account")

    def next_state(self, stream: Stream, state: State | None, tracker: CursorTracker) -> State | None:
        if self._incremental() and stream.object in self._listed:
            landed, listed = self._listed[stream.object]
            return landed.next_state([listed], [listed])
        return state if self._incremental() else None


def _a1(spec: Sheet, title: str) -> str:
    """`'Sheet title'!A1:F` (quotes doubled inside the title), or just the title / range."""
    quoted = "'" + title.replace("'", "''") + "'" if title else ""
    if spec.range:
        return f"{quoted}!{spec.range}" if quoted else spec.range
    return quoted


def _names(header: list[str]) -> list[str]:
    """Header cells as column names: blanks become column_N, repeats get _2, _3 ..."""
    out: list[str] = []
    for index, name in enumerate(header):
        base = name.strip() or f"column_{index + 1}"
        candidate, n = base, 2
        while candidate in out:
            candidate, n = f"{base}_{n}", n + 1
        out.append(candidate)
    return out


def _batch(names: list[str], rows: list[list[Any]]) -> pa.RecordBatch:
    """Rows (ragged: Sheets drops trailing empty cells) as a batch; "" is null; a mixed column becomes text."""
    width = max(len(names), max((len(r) for r in rows), default=0))
    names = names + [f"column_{i + 1}" for i in range(len(names), width)]
    arrays = []
    for index in range(width):
        cells = [None if index >= len(r) or r[index] == "" else r[index] for r in rows]
        try:
            arrays.append(pa.array(cells))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if c is None else str(c) for c in cells], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names)
