"""Upstream (Dativo) Rust plugins: a shared library (.so/.dylib/.dll) called over upstream's C ABI with ctypes.

The ABI, as upstream's `rust_plugin_bridge.py` defines it (every string is NUL-terminated UTF-8 JSON):

  reader  `<create>(config_json) -> *mut Reader`         config: type, connection, credentials, objects, files,
                                                          incremental, engine
          `extract_batch(reader) -> *const c_char`        a JSON list of records; NULL or `[]` ends the read
          `free_reader(reader)`                            optional
  writer  `<create>(config_json) -> *mut Writer`         config: asset_name, schema, output_base, target_type,
                                                          connection, file_format, engine
          `write_batch(writer, input_json) -> *const c_char`  input {"records": [...], "file_counter": n};
                                                          returns a JSON list of file metadata ({"path", ...})
          `free_writer(writer)`                            optional
  both    `free_string(s)`                                 frees a string the library returned (optional)

`<create>` is the name after the colon of `custom_reader` / `custom_writer` (`libx.so:create_reader`). Upstream's
bridge has no commit entry point: a Rust writer's files are committed by dativo (targets/upstream_writer.py).
Two deliberate differences, both failures upstream passes over silently: a NULL from `<create>` fails at once
(upstream kept the NULL handle), and a NULL from `write_batch` for a non-empty batch fails the run (upstream
returned no files, and the batch's rows were lost). Rust plugins print their reasons on stderr.
"""

from __future__ import annotations

import ctypes
import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config.sources import RUST_LIBRARY_SUFFIXES
from .errors import ConfigurationError, PermanentError


class RustPluginError(PermanentError):
    """A Rust plugin broke upstream's C ABI contract (NULL handle, NULL result, invalid JSON)."""


def is_rust_library(spec: str) -> bool:
    return Path(spec.rpartition(":")[0]).suffix in RUST_LIBRARY_SUFFIXES


class RustLibrary:
    """One loaded library and the ABI functions of one side (reader or writer), signatures set as upstream's."""

    def __init__(self, spec: str, field: str, side: str):
        path_text, _, self.create_name = spec.rpartition(":")
        self.path, self.field, self.side = Path(path_text), field, side
        step = "extract_batch" if side == "reader" else "write_batch"
        self.hint = (f"{field} takes 'path/to/libplugin.so:create_{side}': a Rust cdylib exporting "
                     f"{self.create_name or f'create_{side}'}(config_json), {step}, free_string and free_{side} "
                     "(docs/MIGRATING.md)")
        if not self.path.is_file():
            raise ConfigurationError(f"{field}: Rust {side} plugin {self.path} not found (build it with "
                                     "`cargo build --release`)", hint=self.hint)
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise ConfigurationError(f"{field}: {self.path} cannot be loaded as a shared library ({exc})",
                                     hint=self.hint) from None
        self.create = self._function(self.create_name or f"create_{side}", [ctypes.c_char_p], ctypes.c_void_p)
        # c_void_p results, not c_char_p: the raw pointer must go back to the library's own allocator
        args = [ctypes.c_void_p] if side == "reader" else [ctypes.c_void_p, ctypes.c_char_p]
        self.step = self._function(step, args, ctypes.c_void_p)
        self.free_handle = self._function(f"free_{side}", [ctypes.c_void_p], None, required=False)
        self.free_string = self._function("free_string", [ctypes.c_void_p], None, required=False)

    def _function(self, name: str, argtypes: list[Any], restype: Any, required: bool = True) -> Any:
        try:
            function = getattr(self.lib, name)
        except AttributeError:
            if not required:
                return None
            raise ConfigurationError(f"{self.field}: {self.path} does not export the symbol {name!r}",
                                     hint=self.hint) from None
        function.argtypes, function.restype = argtypes, restype
        return function

    def new(self, config: dict[str, Any]) -> int:
        handle = self.create(json.dumps(config, default=_json_default).encode())
        if not handle:
            raise RustPluginError(f"{self.field}: {self.create_name}() of {self.path} returned NULL for its "
                                  "configuration (the plugin prints its reason on stderr)", hint=self.hint)
        return int(handle)

    def take(self, pointer: int, what: str) -> Any:
        """The JSON value of a string the library returned; the string is freed with the library's allocator."""
        try:
            text = ctypes.string_at(pointer).decode()
        finally:
            if self.free_string is not None:
                self.free_string(pointer)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RustPluginError(f"{self.field}: {what} of {self.path} returned invalid JSON ({exc})",
                                  hint=self.hint) from None

    def release(self, handle: int | None) -> None:
        if handle and self.free_handle is not None:
            self.free_handle(handle)


def _json_default(value: Any) -> Any:
    """Upstream's conversions before JSON: datetimes as ISO text, dates as midnight datetimes; decimals as text."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time.min).isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def rust_reader_class(spec: str) -> type:
    """A BaseReader subclass that runs the Rust reader `spec` ('libx.so:create_reader'); raises ConfigurationError
    naming `source.custom_reader` when the library or a symbol is missing."""
    from .sources.upstream_plugin import BaseReader

    library = RustLibrary(spec, "source.custom_reader", "reader")

    class RustReader(BaseReader):
        def extract(self, state_manager: Any = None) -> Iterator[list[dict[str, Any]]]:
            cfg = self.source_config
            handle = library.new({"type": cfg.type, "connection": cfg.connection or {},
                                  "credentials": cfg.credentials or {}, "objects": cfg.objects or [],
                                  "files": cfg.files or [], "incremental": cfg.incremental or {},
                                  "engine": cfg.engine or {}})
            try:
                while pointer := library.step(handle):
                    batch = library.take(pointer, "extract_batch")
                    if not batch:
                        return
                    yield batch
            finally:
                library.release(handle)

    RustReader.__name__ = RustReader.__qualname__ = f"RustReader[{library.path.name}]"
    return RustReader


def rust_writer_class(spec: str, base: type) -> Callable[..., Any]:
    """A `base` (BaseWriter) subclass that runs the Rust writer `spec`; raises ConfigurationError naming
    `target.custom_writer` when the library or a symbol is missing."""
    library = RustLibrary(spec, "target.custom_writer", "writer")

    class RustWriter(base):
        def __init__(self, asset_definition: Any, target_config: Any, output_base: str):
            super().__init__(asset_definition, target_config, output_base)
            self.handle: int | None = library.new({
                "asset_name": asset_definition.name, "schema": list(asset_definition.schema),
                "output_base": output_base, "target_type": target_config.type,
                "connection": target_config.connection or {}, "file_format": target_config.file_format,
                "engine": target_config.engine or {}})

        def write_batch(self, records: list[dict[str, Any]], file_counter: int) -> list[dict[str, Any]]:
            data = json.dumps({"records": records, "file_counter": file_counter}, default=_json_default)
            pointer = library.step(self.handle, data.encode())
            if not pointer:
                raise RustPluginError(f"target.custom_writer: write_batch of {library.path} returned NULL for "
                                      f"{len(records)} records: the plugin failed to write them (it prints its "
                                      "reason on stderr)", hint=library.hint)
            metadata = library.take(pointer, "write_batch")
            return metadata if isinstance(metadata, list) else [metadata]

        def close(self) -> None:
            handle, self.handle = self.handle, None
            library.release(handle)

    RustWriter.__name__ = RustWriter.__qualname__ = f"RustWriter[{library.path.name}]"
    return RustWriter
