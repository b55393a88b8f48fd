"""Upstream (Dativo) writer plugins on dativo's Target seam, with dativo's commit log.

Upstream's contract (`dativo_ingest.plugins.BaseWriter`, re-exported so plugin files import it unchanged): a writer
is built with `(asset_definition, target_config, output_base)`; `write_batch(records, file_counter)` writes one batch
(a list of dicts) and returns file metadata (dicts with at least `path`, optionally `size_bytes`, `record_count`);
after the last batch `commit_files(all_metadata)` commits them. A Rust writer (upstream_rust.py) is one of these.

Who commits — decided by the plugin class, and the guarantee that follows:

- **dativo commits: exactly once**, when the plugin keeps BaseWriter's `commit_files` (every Rust writer: upstream's
  C ABI has no commit). `output_base` is a fresh local staging folder and the plugin's files must be under it.
  After the last batch dativo copies them into the dataset's `_staging/<run_id>/` and commits them with the new
  incremental state in one entry of the dataset's commit log — the Parquet target's compare-and-swap (parquet.py)
  — then publishes them as `<dataset>/<run_id>-<name>`. A failure before the commit leaves nothing visible and
  no state; recovery deletes what it left.
- **the plugin commits: at least once**, when it overrides `commit_files` (it registers the files in its own
  catalog or manifest, so where they live is its business): `output_base` is the dataset folder
  (`<path>/<object>`), dativo calls `commit_files`, and only after it returned records the state (with the
  plugin's file list) in the commit log. A failure between the two (a crash, an overlapping run of the same
  job) leaves the plugin's data committed without the state: the next run re-reads those rows. Files
  `write_batch` wrote before a failure stay wherever the plugin put them.

`file_counter` continues across runs (the commit log keeps the next value), so a plugin that names files by it
never overwrites an earlier run's files; a retry after a failed run reuses the failed run's numbers.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config.targets import UpstreamWriterTarget as WriterConfig
from ..errors import DativoError, ErrorKind, PermanentError, TransientError, classify, describe
from ..sources.base import State, Stream
from ..sources.upstream_plugin import PLUGIN_SDK_VERSION, ConnectionTestResult, load_plugin_class
from ..upstream_rust import is_rust_library, rust_writer_class
from .base import CommitInfo, WriteRequest
from .parquet import STAGING_GRACE_SECONDS, ParquetTarget

FIELD = "target.custom_writer"


class BaseWriter(ABC):
    """Base class of upstream writer plugins: implement `write_batch`; `commit_files` and `check_connection` are
    optional (a writer that keeps this `commit_files` has its files committed by dativo, exactly once)."""

    __version__ = PLUGIN_SDK_VERSION

    def __init__(self, asset_definition: Any, target_config: Any, output_base: str):
        self.asset_definition = asset_definition
        self.target_config = target_config
        self.output_base = output_base

    def check_connection(self) -> ConnectionTestResult:
        return ConnectionTestResult(True, "Connection test not implemented",
                                    details={"note": "Plugin does not implement check_connection"})

    @abstractmethod
    def write_batch(self, records: list[dict[str, Any]], file_counter: int) -> list[dict[str, Any]]:
        """Write `records`; return the metadata of the files written (each with at least `path`)."""

    def commit_files(self, file_metadata: list[dict[str, Any]]) -> dict[str, Any]:
        return {"status": "success", "files_added": len(file_metadata)}


@dataclass(frozen=True)
class WriterAsset:
    """The `asset_definition` a writer is built with (upstream's AssetDefinition attributes)."""

    name: str
    object: str | None = None
    domain: str | None = None
    dataProduct: str | None = None  # noqa: N815 - upstream's attribute name
    version: str | None = None
    source_type: str | None = None
    schema: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class WriterTargetConfig:
    """The `target_config` a writer is built with (upstream's TargetConfig attributes, secrets resolved)."""

    type: str
    connection: dict[str, Any]
    engine: dict[str, Any]
    file_format: str | None
    custom_writer: str
    catalog: Any = None
    branch: str | None = None
    warehouse: str | None = None
    partitioning: list[str] | None = None


def load_writer_class(spec: str) -> type[BaseWriter]:
    """The BaseWriter subclass named by 'path/to/module.py:ClassName', or the wrapper of a Rust writer
    ('path/to/libplugin.so:create_writer'). Raises ConfigurationError naming target.custom_writer and the file."""
    if is_rust_library(spec):
        return rust_writer_class(spec, BaseWriter)  # type: ignore[return-value]
    return load_plugin_class(spec, BaseWriter, FIELD)


def plugin_owns_commit(cls: type[BaseWriter]) -> bool:
    return cls.commit_files is not BaseWriter.commit_files


class UpstreamWriterTarget(ParquetTarget):
    """One dataset per stream under `path`, as the Parquet target keeps it, written by the plugin."""

    types = ("upstream_writer",)
    config: WriterConfig

    def __init__(self, config: WriterConfig, tenant_id: str, job_name: str, home: Path, base_dir: Path):
        super().__init__(config, tenant_id, job_name, home, base_dir)  # type: ignore[arg-type]
        self._counters: dict[str, int] = {}  # object -> the next file_counter

    def read_state(self, stream: Stream) -> State | None:
        state = super().read_state(stream)
        for path in reversed(self._commit_paths(stream)):
            entry = json.loads(self.fs.cat_file(path))
            if entry["job"] == self.job_key:
                self._counters[stream.object] = int(entry.get("next_file_counter", 0))
                break
        return state

    def _build(self, output_base: str, stream: Stream) -> BaseWriter:
        cls = load_writer_class(self.config.plugin)  # loaded once per process (sys.modules / ctypes)
        cfg = self.config
        connection = json.loads(json.dumps(cfg.connection))
        for dotted, secret in cfg.connection_secrets.items():
            *parents, key = dotted.split(".")
            node = connection
            for part in parents:
                node = node.setdefault(part, {})
            node[key] = secret.resolve(self.base_dir)
        target_config = WriterTargetConfig(type=cfg.connector, connection=connection, engine=dict(cfg.engine),
                                           file_format=cfg.file_format, custom_writer=cfg.plugin)
        asset = WriterAsset(**{"name": stream.object, **cfg.asset})
        return _call("its constructor", cfg.plugin, cls, asset, target_config, output_base)

    def check_connection(self) -> ConnectionTestResult:
        """The plugin's own connection test (`dativo check`), built as a run of the asset's dataset builds it."""
        stream = Stream(str(self.config.asset.get("name") or "check"))
        owns_commit = plugin_owns_commit(load_writer_class(self.config.plugin))
        with tempfile.TemporaryDirectory(dir=self._tmp()) as stage:
            writer = self._build(self.table_name(stream) if owns_commit else stage, stream)
            try:
                return _call("check_connection", self.config.plugin, writer.check_connection)
            finally:
                _close(writer)

    def _tmp(self) -> Path:
        """The local folder of writer staging; staging older than STAGING_GRACE_SECONDS is a killed run's."""
        folder = self.home / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("writer-*"):
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > STAGING_GRACE_SECONDS:
                    shutil.rmtree(stale, ignore_errors=True)
        return folder

    def _write(self, request: WriteRequest) -> CommitInfo:
        stream = request.stream
        base, run_dir = self._begin(request)
        local_stage = Path(tempfile.mkdtemp(prefix=f"writer-{request.run_id}-", dir=self._tmp()))
        info = CommitInfo(table=self.table_name(stream))
        writer: BaseWriter | None = None
        names: list[str] = []
        try:
            owns_commit = plugin_owns_commit(load_writer_class(self.config.plugin))
            writer = self._build(self.table_name(stream) if owns_commit else str(local_stage), stream)
            counter = start = self._counters.get(stream.object, 0)
            metadata: list[dict[str, Any]] = []
            for batch in request.batches:
                records = batch.to_pylist()
                if not records:
                    continue
                files = _metadata(_call("write_batch", self.config.plugin, writer.write_batch, records, counter))
                metadata.extend(files)
                counter += len(files)
                info.rows += len(records)
            read_seq, read_state = self._read.get(stream.object, (0, None))
            state = request.final_state()
            if info.rows == 0 and json.dumps(state, sort_keys=True) == json.dumps(read_state, sort_keys=True):
                self._remove(run_dir)
                return info  # nothing new: no commit entry
            entry: dict[str, Any] = {"run_id": request.run_id, "job": self.job_key, "rows": info.rows, "state": state,
                                     "mode": "append", "replaces": [], "plugin": self.config.plugin,
                                     "first_file_counter": start, "next_file_counter": counter}
            if owns_commit:
                result = _call("commit_files", self.config.plugin, writer.commit_files, metadata)
                entry |= {"files": [], "committed_by": "plugin", "plugin_files": [str(m["path"]) for m in metadata],
                          "plugin_commit": json.loads(json.dumps(result, default=str))}
                try:
                    self._commit(stream, read_seq, json.dumps(entry).encode())
                except Exception as exc:
                    kind = TransientError if classify(exc) is ErrorKind.TRANSIENT else PermanentError
                    raise kind(f"{FIELD}: the plugin committed {len(metadata)} files ({info.rows} rows) but the "
                               f"incremental state was not recorded ({exc}); the next run reads these rows again "
                               "(a plugin that commits itself is at-least-once, docs/MIGRATING.md)") from exc
            else:
                names = self._stage(local_stage, metadata, run_dir, request.run_id)
                entry |= {"files": names, "committed_by": "dativo"}
                self._commit(stream, read_seq, json.dumps(entry).encode())
        except BaseException:
            with contextlib.suppress(Exception):
                self._remove(run_dir)
            raise
        finally:
            if writer is not None:
                _close(writer)
            shutil.rmtree(local_stage, ignore_errors=True)
        self._counters[stream.object] = counter
        self._publish(run_dir, base, names)  # moves dativo-committed files; removes the run's staging folder
        if names:
            info.bytes = sum(self.fs.size(f"{base}/{name}") for name in names)
        else:
            info.bytes = sum(int(m.get("size_bytes") or 0) for m in metadata)
        info.files = len(names) or len(metadata)
        return info

    def _stage(self, local_stage: Path, metadata: list[dict[str, Any]], run_dir: str, run_id: str) -> list[str]:
        """Copy the plugin's files into the dataset's staging folder of this run; their names in the dataset."""
        names = []
        root = local_stage.resolve()
        for item in metadata:
            path = Path(str(item["path"])).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                where = "is not a file" if path.is_relative_to(root) else f"is outside its output_base {root}"
                raise PermanentError(
                    f"{FIELD}: {self.config.plugin} write_batch returned {path}, which {where}",
                    hint="a writer that keeps BaseWriter's commit_files writes its files under output_base and "
                         "returns their paths; dativo commits them (override commit_files to commit them yourself)")
            name = f"{run_id}-{str(path.relative_to(root)).replace('/', '-')}"
            self.fs.put_file(str(path), f"{run_dir}/{name}")
            names.append(name)
        return names


def _close(writer: BaseWriter) -> None:
    """Release a Rust writer's handle (Python writers have nothing to release)."""
    if hasattr(writer, "close"):
        with contextlib.suppress(Exception):
            writer.close()


def _metadata(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(m, dict) and m.get("path") for m in value):
        raise PermanentError(f"{FIELD}: write_batch returned {type(value).__name__}, expected a list of file "
                             "metadata dicts, each with a `path`")
    return value


def _call(step: str, spec: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call the plugin; what it raises is reported naming the field, the plugin and the step, with its own kind."""
    try:
        return function(*args)
    except DativoError:
        raise
    except Exception as exc:
        kind = TransientError if classify(exc) is ErrorKind.TRANSIENT else PermanentError
        raise kind(f"{FIELD}: {spec} {step} raised {describe(exc)}") from exc
