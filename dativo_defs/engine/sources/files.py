"""CSV, JSON lines and Parquet files, local or on S3-compatible storage, streamed with pyarrow.dataset.

Incremental by file (`file_modified_time`: every file not landed yet, see landed.py) or by a cursor column
(boundary/lookback window, see window.py). A glob matching no file is an error unless `allow_empty` is set.
"""

from __future__ import annotations

import difflib
import glob as globlib
import posixpath
from collections.abc import Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
from fsspec.implementations.local import LocalFileSystem as FsspecLocalFileSystem
from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem

from ...config.paths import resolve_relative
from ...config.sources import FileSource as FileConfig
from ...config.sources import IncrementalStrategy
from ..errors import PermanentError, SourceNotFoundError
from ..storage import filesystem, mtime
from .base import CursorTracker, Source, State, Stream
from .landed import LandedFiles, ListedFile, identity


class FileSource(Source):
    types = ("csv", "jsonl", "parquet")
    config: FileConfig

    def __init__(self, config: FileConfig, base_dir: Any):
        super().__init__(config, base_dir)
        # per stream: (landed before, files listed, files read) for next_state
        self._listed: dict[str, tuple[LandedFiles, list[ListedFile], list[ListedFile]]] = {}

    def _incremental(self, strategy: IncrementalStrategy) -> bool:
        inc = self.config.incremental
        return inc is not None and inc.enabled and inc.strategy is strategy

    def streams(self) -> list[Stream]:
        inc = self.config.incremental
        default_cursor = inc.cursor_field if self._incremental(IncrementalStrategy.CURSOR) and inc else None
        return [Stream(object=name, cursor_field=f.cursor_field or default_cursor,
                       lookback=inc.window if inc else None)
                for name, f in zip(self.config.objects(), self.config.files, strict=True)]

    def _spec(self, stream: Stream) -> Any:
        return self.config.files[self.config.objects().index(stream.object)]

    def _matching_files(self, stream: Stream,
                        state: State | None = None) -> tuple[fsspec.AbstractFileSystem, list[ListedFile]]:
        """(filesystem, files) sorted by mtime then path. No match is an error unless the file sets `allow_empty`."""
        spec = self._spec(stream)
        pattern = resolve_relative(spec.path, self.base_dir)
        fs, root = filesystem(pattern, self.config.storage, self.base_dir)
        fs.invalidate_cache()  # fsspec caches listings per filesystem instance: a long-lived process sees new files
        paths = sorted(fs.glob(root)) if globlib.has_magic(root) else ([root] if fs.exists(root) else [])
        if not paths and not globlib.has_magic(root):
            raise SourceNotFoundError(f"{stream.object}: file {pattern} does not exist",
                                      hint=f"{_path_hint(spec.path)}; {_nearest(fs, root)}")
        files = []
        for path in paths:
            info = fs.info(path)
            if info.get("type") == "file":
                modified = mtime(info)
                files.append(ListedFile(path, modified, identity(path, info, modified)))
        if not files and not spec.allow_empty:
            if state:
                raise SourceNotFoundError(f"{stream.object}: {pattern} matches no file any more, though earlier runs "
                                          "read files from it", hint="were the files moved or deleted? set "
                                          "`allow_empty: true` on the file if an empty folder is normal")
            raise SourceNotFoundError(f"{stream.object}: {pattern} matches no file",
                                      hint=f"{_path_hint(spec.path)}; {_nearest(fs, root)}; set `allow_empty: true` "
                                           "on the file if an empty folder is normal")
        return fs, sorted(files, key=lambda f: (f.mtime, f.path))

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        fs, listing = self._matching_files(stream, state)
        files = listing
        if self._incremental(IncrementalStrategy.FILE_MODIFIED_TIME):
            landed = LandedFiles(state)
            files = [f for f in listing if not landed.is_landed(f)]
            self._listed[stream.object] = (landed, listing, files)
        if not files:
            return
        # Local files through Arrow's own filesystem: its reader threads never call into Python, so a scan
        # abandoned on a parse error cannot abort the interpreter at exit (as fsspec-backed reads can).
        arrow_fs = LocalFileSystem() if isinstance(fs, FsspecLocalFileSystem) else PyFileSystem(FSSpecHandler(fs))
        try:  # the schema is inferred from the first file
            dataset = ds.dataset([f.path for f in files], filesystem=arrow_fs, format=self._format(stream))
        except pa.ArrowInvalid as exc:
            raise self._malformed(stream, files[0].path, exc) from None
        expression, window = None, None
        if stream.cursor_field:
            window = self.window(stream, state)
            bound = window.lower_bound()
            if bound is not None:
                field = ds.field(stream.cursor_field)
                expression = field >= pa.scalar(bound[0]) if bound[1] else field > pa.scalar(bound[0])
        for fragment in dataset.get_fragments():  # file by file, so a parse error can name its file
            try:
                for batch in fragment.to_batches(schema=dataset.schema, filter=expression,
                                                 batch_size=self.config.batch_rows):
                    batch = window.admit(batch) if window else batch
                    if batch.num_rows:
                        yield batch
            except pa.ArrowInvalid as exc:
                raise self._malformed(stream, fragment.path, exc) from None

    def _malformed(self, stream: Stream, path: str, exc: Exception) -> PermanentError:
        """A parse error as one line naming the file (pyarrow wraps the parser's message in context)."""
        detail = (str(exc).splitlines() or [type(exc).__name__])[0].rsplit("Invalid: ", 1)[-1]
        return PermanentError(f"{stream.object}: malformed {self.config.type} data in {path}: {detail}",
                              hint="fix or remove the bad rows (CSV: as many fields as the header; JSON lines: one "
                                   "complete object per line)")

    def next_state(self, stream: Stream, state: State | None, tracker: CursorTracker) -> State | None:
        if self._incremental(IncrementalStrategy.FILE_MODIFIED_TIME):
            landed, listing, read = self._listed.get(stream.object, (None, [], []))
            return landed.next_state(listing, read) if landed is not None and read else state
        return super().next_state(stream, state, tracker)

    def _format(self, stream: Stream) -> ds.FileFormat | str:
        if self.config.type == "csv":
            csv = self.config.csv
            return ds.CsvFileFormat(
                parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, quote_char=csv.quote_char),
                read_options=pacsv.ReadOptions(autogenerate_column_names=not csv.header, encoding=csv.encoding,
                                               block_size=1 << 22),
                convert_options=pacsv.ConvertOptions(  # empty field = null, not ""; contract decimals as text (exact)
                    strings_can_be_null=True, column_types={name: pa.string() for name in stream.text_columns}),
            )
        return "json" if self.config.type == "jsonl" else "parquet"




def _nearest(fs: fsspec.AbstractFileSystem, root: str) -> str:
    """Names the existing path closest to a path or glob that matches nothing (the first part that is missing)."""
    parts = root.rstrip("/").split("/")
    depth = 0
    while depth < len(parts) and not globlib.has_magic(parts[depth]) and fs.exists("/".join(parts[:depth + 1]) or "/"):
        depth += 1
    parent = "/".join(parts[:depth]) or "/"
    try:
        names = [posixpath.basename(p.rstrip("/")) for p in fs.ls(parent, detail=False)]
    except (OSError, ValueError):
        names = []
    missing = parts[depth] if depth < len(parts) else ""
    close = difflib.get_close_matches(missing, names, n=1, cutoff=0.5)
    if close:
        return f"nearest existing path: {posixpath.join(parent, close[0])} (the pattern has {missing!r})"
    return f"{parent} exists but has no entry like {missing!r}" if names else f"nearest existing folder: {parent}"


def _path_hint(path: str) -> str:
    """What to check about a file path that matched nothing, by how it was written."""
    if "://" in path:
        return "check source.files[].path"
    if not posixpath.isabs(path):
        return "check source.files[].path (relative to the job file)"
    return ("check source.files[].path (in upstream-format jobs, /app/... and relative paths are taken from the app "
            "root: $DATIVO_APP_ROOT, else the folder above the job that holds connectors/)")
