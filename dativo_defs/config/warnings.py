"""Warnings `dativo validate` prints for a job that is valid but will probably not do what its author wants."""

from __future__ import annotations

import glob as globlib
from pathlib import Path

from .loader import Job
from .paths import resolve_relative
from .sources import MAX_REMEMBERED_ROWS, FileSource, Incremental
from .targets import WriteMode


def job_warnings(job: Job) -> list[str]:
    source, target = job.config.source, job.config.target
    out: list[str] = []
    if isinstance(source, FileSource):
        for number, spec in enumerate(source.files):
            if spec.allow_empty or "://" in spec.path:
                continue  # only local paths are checked here; remote ones fail at run time with a hint
            pattern = resolve_relative(spec.path, job.base_dir)
            if not (globlib.glob(pattern) if globlib.has_magic(pattern) else Path(pattern).exists()):
                out.append(f"{job.file}: source.files[{number}].path {spec.path!r} matches no file now (a run "
                           "fails until it does; set `allow_empty: true` if an empty folder is normal)")
    for where, plugin_spec in (("source.custom_reader", getattr(source, "plugin", None)),
                               ("target.custom_writer", getattr(target, "plugin", None))):
        plugin = Path(str(plugin_spec).rpartition(":")[0]) if plugin_spec else None
        if plugin is not None and not plugin.is_file():  # upstream plugins: looked for when a run builds them
            build = "; build the Rust library (cargo build --release)" if plugin.suffix != ".py" else ""
            out.append(f"{job.file}: {where} {plugin} not found now (a run fails until it exists{build})")
    incremental: Incremental | None = getattr(source, "incremental", None)
    mode = getattr(target, "mode", WriteMode.APPEND)
    mode = getattr(mode, "value", mode)
    if incremental is not None and incremental.enabled and incremental.window and mode != WriteMode.MERGE.value:
        out.append(f"{job.file}: source.incremental.lookback {incremental.window:g} with target mode "
                   f"{mode}: re-read rows are recognised only while the "
                   f"window holds at most {MAX_REMEMBERED_ROWS:,} rows; beyond that the window narrows and rows "
                   "committed later than it are not read. For an exact re-read of any size use target `mode: "
                   "merge` with a `primary_key`.")
    return out
