"""Upstream (Dativo) Python reader plugins on dativo's Source seam.

Upstream's plugin SDK (re-exported as `dativo_ingest.plugins`, so plugin files import it unchanged): a reader is
a `BaseReader` subclass built with a `source_config` (attributes `type`, `connection`, `credentials`, `engine`,
`objects`, `files`, `tables`, `incremental`) whose `extract(state_manager)` yields batches as lists of dicts.
A Rust reader (a .so/.dylib/.dll over upstream's C ABI) runs through a BaseReader wrapper (upstream_rust.py).
`PluginSource` loads the class from its .py file (as upstream's PluginLoader does), and yields each batch as a
record batch of one output table — upstream writes all of a job's records to its one asset. The state manager
is None: the committed state is the target's (a plugin read is a full read each run, as upstream's with no
state file); the contract checks the rows like any source's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ConfigurationError
from .base import Source, State, Stream

PLUGIN_SDK_VERSION = "1.0.0"  # upstream's plugin SDK version this implements


@dataclass
class ConnectionTestResult:
    """What `check_connection` returns: success, a message, an optional error code and details."""

    success: bool
    message: str
    error_code: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": self.success, "message": self.message}
        if self.error_code:
            out["error_code"] = self.error_code
        if self.details:
            out["details"] = self.details
        return out


@dataclass
class DiscoveryResult:
    """What `discover` returns: the objects (each with at least `name` and `type`) and source metadata."""

    objects: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "metadata": self.metadata}


class IncrementalStateManager:
    """Upstream's state-file manager, named here so plugin modules that import it for type hints load. dativo
    passes `state_manager=None` to `extract`: state is committed with the data by the target."""


@dataclass(frozen=True)
class PluginSourceConfig:
    """The `source_config` a plugin is built with (upstream's SourceConfig attributes, credentials resolved)."""

    type: str
    connection: dict[str, Any]
    credentials: dict[str, str]
    engine: dict[str, Any]
    objects: list[str]
    files: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    incremental: dict[str, Any] | None
    custom_reader: str


class BaseReader(ABC):
    """Base class of upstream reader plugins: implement `extract`; `check_connection` and `discover` are optional."""

    __version__ = PLUGIN_SDK_VERSION

    def __init__(self, source_config: Any):
        self.source_config = source_config

    def check_connection(self) -> ConnectionTestResult:
        return ConnectionTestResult(True, "Connection test not implemented",
                                    details={"note": "Plugin does not implement check_connection"})

    def discover(self) -> DiscoveryResult:
        return DiscoveryResult([], {"note": "Plugin does not implement discover"})

    @abstractmethod
    def extract(self, state_manager: Any = None) -> Iterator[list[dict[str, Any]]]:
        """Yield batches of records (lists of dicts)."""

    def get_total_records_estimate(self) -> int | None:
        return None


def load_reader_class(spec: str) -> type[BaseReader]:
    """The BaseReader subclass named by 'path/to/module.py:ClassName', or the wrapper of a Rust reader
    ('path/to/libplugin.so:create_reader', engine/upstream_rust.py). Raises ConfigurationError saying what is
    wrong (missing file, no such class or symbol, not a BaseReader)."""
    from ..upstream_rust import is_rust_library, rust_reader_class

    if is_rust_library(spec):
        return rust_reader_class(spec)
    return load_plugin_class(spec, BaseReader, "source.custom_reader")


def load_plugin_class(spec: str, base: type[Any], field: str) -> type[Any]:
    """The `base` subclass named by 'path/to/module.py:ClassName' (a reader or writer plugin), the module loaded
    from its file as upstream's PluginLoader does. Raises ConfigurationError naming `field` and the file."""
    path_text, _, class_name = spec.rpartition(":")
    path = Path(path_text)
    side = base.__name__.removeprefix("Base").lower()
    hint = (f"{field.rpartition('.')[2]} takes 'path/to/module.py:ClassName', a {base.__name__} subclass "
            "(from dativo_ingest.plugins)")
    if not path.is_file():
        raise ConfigurationError(f"{field}: {side} plugin {path} not found", hint=hint)
    # a unique module name per file: two plugins with the same file name do not replace each other
    name = f"dativo_upstream_plugin_{path.stem}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"
    module = sys.modules.get(name)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigurationError(f"{field}: {side} plugin {path} cannot be loaded as a Python module", hint=hint)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)  # the plugin's own import errors propagate, classified by the runner
        sys.modules[name] = module
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, base):
        found = "not found" if cls is None else f"not a {base.__name__} subclass"
        raise ConfigurationError(f"{field}: {side} plugin {path}: {class_name} is {found}", hint=hint)
    return cls


class PluginSource(Source):
    """One stream (the config's `object`); each plugin batch becomes one record batch."""

    types = ("upstream_plugin",)

    def __init__(self, config: Any, base_dir: Path):
        super().__init__(config, base_dir)
        self.reader: BaseReader | None = None

    def _reader(self) -> BaseReader:
        if self.reader is None:
            cfg = self.config
            source_config = PluginSourceConfig(
                type=cfg.connector, connection=dict(cfg.connection),
                credentials={k: v.resolve(self.base_dir) for k, v in cfg.credentials.items()}, engine=dict(cfg.engine),
                objects=list(cfg.plugin_objects), files=[dict(f) for f in cfg.files],
                tables=[dict(t) for t in cfg.tables], incremental=cfg.incremental, custom_reader=cfg.plugin)
            self.reader = load_reader_class(cfg.plugin)(source_config)
        return self.reader

    def streams(self) -> list[Stream]:
        return [Stream(self.config.object)]

    def read(self, stream: Stream, state: State | None) -> Iterator[pa.RecordBatch]:
        for number, records in enumerate(self._reader().extract(state_manager=None)):
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise TypeError(f"reader plugin {self.config.plugin}: batch {number} is {type(records).__name__}, "
                                "expected a list of dicts (one per record)")
            if records:
                yield pa.RecordBatch.from_pylist(records)

    def check_connection(self) -> ConnectionTestResult:
        """The plugin's own connection test (`dativo check`)."""
        return self._reader().check_connection()

    def discover(self) -> list[str]:
        """The names of the objects the plugin's `discover()` lists (`dativo discover`)."""
        return [str(o.get("name")) for o in self._reader().discover().objects]
