"""CSV, JSON lines and Parquet files, local or on S3-compatible storage, streamed with pyarrow.dataset.

Incremental by file modification time (files changed since the last commit) or by a cursor column.
"""

from __future__ import annotations

import glob as globlib
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
from .base import CursorTracker, Source, State, Stream, cursor_of


class FileSource(Source):
    types = ("csv", "jsonl", "parquet")
    config: FileConfig

    def __init__(self, config: FileConfig, base_dir: Any):
        super().__init__(config, base_dir)
        self._selected: dict[str, list[tuple[str, float]]] = {}  # files read per stream, for next_state

    def _incremental(self, strategy: IncrementalStrategy) -> bool:
        inc = self.config.incremental
        return inc is not None and inc.enabled and inc.strategy is strategy

    def streams(self) -> list[Stream]:
        inc = self.config.incremental
        default_cursor = inc.cursor_field if self._incremental(IncrementalStrategy.CURSOR) and inc else None
        return [Stream(object=name, cursor_field=f.cursor_field or default_cursor,
                       lookback=inc.lookback_seconds if inc else None)
                for name, f in zip(self.config.objects(), self.config.files)]

    def _spec(self, stream: Stream) -> Any:
        return self.config.files[self.config.objects().index(stream.object)]

    def _matching_files(self, stream: Stream) -> tuple[fsspec.AbstractFileSystem, list[tuple[str, float]]]:
        """(filesystem, [(path, mtime)]) sorted by mtime then path."""
        pattern = resolve_relative(self._spec(stream).path, self.base_dir)
        fs, root = filesystem(pattern, self.config.storage, self.base_dir)
        paths = sorted(fs.glob(root)) if globlib.has_magic(root) else ([root] if fs.exists(root) else [])
        if not paths and not globlib.has_magic(root):
            raise SourceNotFoundError(f"{stream.object}: file {pattern} does not exist",
                                      hint="check source.files[].path (relative to the job file)")
        files = [(p, mtime(fs.info(p))) for p in paths if fs.isfile(p)]
        return fs, sorted(files, key=lambda item: (item[1], item[0]))

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        fs, files = self._matching_files(stream)
        if self._incremental(IncrementalStrategy.FILE_MODIFIED_TIME) and state:
            last, seen = state.get("mtime", 0.0), set(state.get("files_at_mtime", []))
            files = [(p, m) for p, m in files if m > last or (m == last and p not in seen)]
        self._selected[stream.object] = files
        if not files:
            return
        # Local files through Arrow's own filesystem: its reader threads never call into Python, so a scan
        # abandoned on a parse error cannot abort the interpreter at exit (as fsspec-backed reads can).
        arrow_fs = LocalFileSystem() if isinstance(fs, FsspecLocalFileSystem) else PyFileSystem(FSSpecHandler(fs))
        try:  # the schema is inferred from the first file
            dataset = ds.dataset([p for p, _ in files], filesystem=arrow_fs, format=self._format())
        except pa.ArrowInvalid as exc:
            raise self._malformed(stream, files[0][0], exc) from None
        expression = None
        last_cursor = cursor_of(state)
        if stream.cursor_field and last_cursor is not None:
            expression = ds.field(stream.cursor_field) > pa.scalar(last_cursor)
        for fragment in dataset.get_fragments():  # file by file, so a parse error can name its file
            try:
                yield from fragment.to_batches(schema=dataset.schema, filter=expression, batch_size=self.config.batch_rows)
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
            files = self._selected.get(stream.object, [])
            if not files:
                return state
            newest = max(m for _, m in files)
            at_newest = [p for p, m in files if m == newest]
            if state and state.get("mtime") == newest:
                at_newest = sorted(set(at_newest) | set(state.get("files_at_mtime", [])))
            return {"mtime": newest, "files_at_mtime": at_newest}
        return super().next_state(stream, state, tracker)

    def _format(self) -> ds.FileFormat | str:
        if self.config.type == "csv":
            csv = self.config.csv
            return ds.CsvFileFormat(
                parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, quote_char=csv.quote_char),
                read_options=pacsv.ReadOptions(autogenerate_column_names=not csv.header, encoding=csv.encoding,
                                               block_size=1 << 22),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),  # empty field = null, not ""
            )
        return "json" if self.config.type == "jsonl" else "parquet"


