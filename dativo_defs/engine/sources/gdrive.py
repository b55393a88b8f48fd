"""CSV files in Google Drive (`gdrive_csv`), through the Drive API v3.

Each `files` entry is a file id (a CSV file, or a Google Sheets file exported as CSV) or a folder id (every CSV
file in it, not trashed, listed page by page). A file is downloaded in chunks to a temporary file and parsed with
pyarrow's streaming CSV reader, so memory stays bounded. Incremental (`file_modified_time`): a file lands again
only when its `modifiedTime` (or size) changed since it last landed (landed.py keeps the identities).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from ...config.sources import GoogleDriveSource as DriveConfig
from ...config.sources import IncrementalStrategy
from ..errors import PermanentError
from .base import CursorTracker, Source, State, Stream
from .google_api import DRIVE_READONLY, Probe, client, credentials, google_errors, modified_epoch
from .landed import LandedFiles, ListedFile, identity

CSV_MIME = "text/csv"
SHEETS_MIME = "application/vnd.google-apps.spreadsheet"  # exported as CSV (its first sheet)
FIELDS = "id, name, mimeType, modifiedTime, size"
CHUNK_BYTES = 8 << 20


class GoogleDriveSource(Source):
    types = ("gdrive_csv",)
    config: DriveConfig

    def __init__(self, config: DriveConfig, base_dir: Any):
        super().__init__(config, base_dir)
        self._drive: Any = None
        self._listed: dict[str, tuple[LandedFiles, list[ListedFile], list[ListedFile]]] = {}

    @property
    def drive(self) -> Any:
        if self._drive is None:
            creds = credentials(self.config, self.base_dir, [DRIVE_READONLY])
            self._drive = client("drive", "v3", creds, self.config.drive_endpoint, self.config.timeout_seconds)
        return self._drive

    def _incremental(self) -> bool:
        inc = self.config.incremental
        return inc is not None and inc.enabled and inc.strategy is IncrementalStrategy.FILE_MODIFIED_TIME

    def streams(self) -> list[Stream]:
        return [Stream(object=f.object) for f in self.config.files]

    def _files(self, stream: Stream) -> list[dict[str, Any]]:
        """The Drive files of a stream's entry, with their metadata, oldest modification first."""
        spec = self.config.files[self.config.objects().index(stream.object)]
        files = self.drive.files()
        if spec.file_id:
            with google_errors(f"{stream.object}: Drive file {spec.file_id}"):
                return [files.get(fileId=spec.file_id, fields=FIELDS, supportsAllDrives=True)
                        .execute(num_retries=3)]
        found: list[dict[str, Any]] = []
        query = f"'{spec.folder_id}' in parents and mimeType = '{CSV_MIME}' and trashed = false"
        token = None
        with google_errors(f"{stream.object}: Drive folder {spec.folder_id}"):
            while True:
                page = files.list(q=query, fields=f"nextPageToken, files({FIELDS})", pageSize=100, pageToken=token,
                                  supportsAllDrives=True, includeItemsFromAllDrives=True).execute(num_retries=3)
                found.extend(page.get("files", []))
                token = page.get("nextPageToken")
                if not token:
                    break
        return sorted(found, key=lambda f: (modified_epoch(f.get("modifiedTime")), f["id"]))

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        metas = self._files(stream)
        listing = [ListedFile(m["id"], modified_epoch(m.get("modifiedTime")),
                              identity(m["id"], {"size": m.get("size")}, modified_epoch(m.get("modifiedTime"))))
                   for m in metas]
        chosen = list(zip(metas, listing, strict=True))
        if self._incremental():
            landed = LandedFiles(state)
            chosen = [(m, f) for m, f in chosen if not landed.is_landed(f)]
            self._listed[stream.object] = (landed, listing, [f for _, f in chosen])
        for meta, _ in chosen:
            yield from self._read_file(stream, meta)

    def _read_file(self, stream: Stream, meta: dict[str, Any]) -> Iterator[pa.RecordBatch]:
        from googleapiclient.http import MediaIoBaseDownload

        what = f"{stream.object}: Drive file {meta['id']} ({meta.get('name', '?')})"
        files = self.drive.files()
        if meta.get("mimeType") == SHEETS_MIME:
            request = files.export_media(fileId=meta["id"], mimeType=CSV_MIME)
        else:
            request = files.get_media(fileId=meta["id"], supportsAllDrives=True)
        with tempfile.TemporaryDirectory(prefix="dativo-gdrive-") as folder:
            path = Path(folder) / "file.csv"
            with open(path, "wb") as out, google_errors(what):
                download = MediaIoBaseDownload(out, request, chunksize=CHUNK_BYTES)
                done = False
                while not done:
                    _, done = download.next_chunk(num_retries=3)
            if path.stat().st_size == 0:
                return
            yield from self._parse(stream, path, what)

    def _parse(self, stream: Stream, path: Path, what: str) -> Iterator[pa.RecordBatch]:
        csv = self.config.csv
        try:
            reader = pacsv.open_csv(
                path, read_options=pacsv.ReadOptions(autogenerate_column_names=not csv.header, encoding=csv.encoding,
                                                     block_size=1 << 22),
                parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, quote_char=csv.quote_char),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                     column_types={n: pa.string() for n in stream.text_columns}))
            for batch in reader:
                for start in range(0, batch.num_rows, self.config.batch_rows):
                    yield batch.slice(start, self.config.batch_rows)
        except pa.ArrowInvalid as exc:
            detail = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise PermanentError(f"{what}: malformed CSV: {detail}",
                                 hint="fix the file (as many fields as the header on every row)") from None

    def close(self) -> None:
        if self._drive is not None:
            self._drive.close()  # the client's HTTP connections
            self._drive = None

    def check_connection(self) -> Probe:
        """`dativo check`: the key is accepted and every file / folder is visible (metadata and listings only)."""
        found = sum(len(self._files(stream)) for stream in self.streams())
        return Probe(True, f"{found} Drive file(s) visible to the service account")

    def next_state(self, stream: Stream, state: State | None, tracker: CursorTracker) -> State | None:
        if self._incremental():
            landed, listing, read = self._listed.get(stream.object, (None, [], []))
            return landed.next_state(listing, read) if landed is not None and read else state
        return None
