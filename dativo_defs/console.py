"""What `dativo run` shows a person: a live progress line per object and a summary table (rich), or the engine's
JSON lines for machines. Both are listeners on the engine's event stream (engine/events.py): the engine's
logic does not know which one is attached."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TextIO

from .engine.context import RunResult
from .engine.events import Event

if TYPE_CHECKING:  # rich is imported only when something is shown with it: a JSON-lines run never loads it
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table


class LogFormat(str, Enum):
    CONSOLE = "console"
    JSON = "json"


def default_format(stream: TextIO | None = None) -> LogFormat:
    """Console for a person at a terminal, JSON lines for everything else (orchestrators, pipes, files)."""
    stream = stream or sys.stderr
    return LogFormat.CONSOLE if stream.isatty() else LogFormat.JSON


def wide_console(stderr: bool = False) -> Console:
    """A rich console; when not a terminal (a pipe, a file, a test), 200 columns so ids are not cut."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=200)
    return console


def threshold(quiet: bool, verbose: int) -> int | None:
    """The lowest event level shown: -v DEBUG, --quiet WARNING, otherwise None (the job's own level)."""
    if verbose:
        return logging.DEBUG
    return logging.WARNING if quiet else None


class JsonSink:
    """The engine's JSON lines at a level chosen on the command line (-v / --quiet)."""

    def __init__(self, level: int, stream: TextIO | None = None):
        self.level, self.stream = level, stream or sys.stderr

    def __call__(self, event: Event) -> None:
        if event.level >= self.level:
            self.stream.write(event.line + "\n")
            self.stream.flush()


_NO_TASK: TaskID = -1  # type: ignore[assignment] # rich's TaskID is a NewType of int


@dataclass
class _Object:
    task: TaskID
    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    bytes: int = 0
    duration: float | None = None


class ConsoleSink:
    """A live progress line per object (rows, MB, rows/s, elapsed) while a job runs; warnings and errors as
    lines; with -v every event as a line; with --quiet only warnings, errors and the final line."""

    def __init__(self, console: Console, level: int | None = None):
        self.console = console
        self.level = logging.INFO if level is None else level
        self.progress: Progress | None = None
        self.objects: dict[str, _Object] = {}

    # -- the listener -------------------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        record, kind = event.record, event.event_type
        if kind == "job_started":
            self._start()
        obj = record.get("object")
        if kind == "batch_written" and obj is not None:
            state = self._object(obj)
            state.rows += int(record.get("rows", 0))
            state.bytes += int(record.get("bytes", 0))
            self._show(obj, state)
        elif kind == "commit" and obj is not None:
            state = self._object(obj)
            state.rows, state.bytes = int(record.get("rows", 0)), int(record.get("bytes", 0))
            state.duration = record.get("duration_seconds")
            self._show(obj, state, done="[green]✓[/]")
        elif kind == "no_new_data" and obj is not None:
            state = self._object(obj)
            state.duration = round(time.monotonic() - state.started, 3)
            self._show(obj, state, done="[dim]no new data[/]")
        if self.level <= logging.DEBUG or (event.level >= logging.WARNING and event.level >= self.level):
            self._line(event)
        if kind in ("job_finished", "job_failed"):
            self._stop()

    # -- after the run ------------------------------------------------------------------------------------------
    def summary(self, result: RunResult) -> Table:
        """object, rows, bytes, cursor before → after, snapshot, duration: one row per object of the run."""
        from rich.filesize import decimal
        from rich.table import Table

        table = Table(title=f"{result.tenant_id}/{result.job}: {result.status.value}", title_justify="left")
        for name, justify in (("object", "left"), ("rows", "right"), ("bytes", "right"), ("cursor", "left"),
                              ("snapshot", "left"), ("duration", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for obj in result.objects:
            seen = self.objects.get(obj.object)
            duration = f"{seen.duration:.2f}s" if seen and seen.duration is not None else ""
            table.add_row(obj.table, f"{obj.rows_written:,}", decimal(obj.bytes_written),
                          f"{_short(obj.cursor_before)} → {_short(obj.cursor_after)}",
                          str(obj.snapshot_id) if obj.snapshot_id is not None else "-", duration)
        return table

    def final_line(self, result: RunResult) -> str:
        from rich.filesize import decimal

        colour = {"success": "green", "partial": "yellow", "failed": "red"}[result.status.value]
        line = (f"[{colour}]{result.tenant_id}/{result.job}: {result.status.value}[/], {result.rows_written:,} rows, "
                f"{decimal(result.bytes_written)} in {result.duration_seconds:.2f}s")
        if result.error:
            line += f"\n[red]{result.error_kind} error:[/] {_escape(result.error)}"
        return line

    # -- internals ----------------------------------------------------------------------------------------------
    def _start(self) -> None:
        self.objects = {}
        if self.level > logging.INFO:  # --quiet: no progress lines
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[rows]:>12,} rows"),
            TextColumn("{task.fields[mb]:>9.1f} MB"), TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
            TimeElapsedColumn(), console=self.console, transient=False)
        self.progress.start()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _object(self, name: str) -> _Object:
        if name not in self.objects:
            task = self.progress.add_task(name, rows=0, mb=0.0, rate=0.0) if self.progress else _NO_TASK
            self.objects[name] = _Object(task)
        return self.objects[name]

    def _show(self, name: str, state: _Object, done: str | None = None) -> None:
        if self.progress is None:
            return
        elapsed = max(time.monotonic() - state.started, 1e-6)
        self.progress.update(state.task, rows=state.rows, mb=state.bytes / 1e6, rate=state.rows / elapsed,
                             description=f"{name} {done}" if done else name)
        if done:
            self.progress.stop_task(state.task)
            self.progress.refresh()

    def _line(self, event: Event) -> None:
        style = {logging.DEBUG: "dim", logging.WARNING: "yellow", logging.ERROR: "red"}.get(event.level, "")
        skip = {"timestamp", "level", "event_type", "tenant_id", "job", "source_type", "target_type", "run_id",
                "caller", "caller_run_ids"}
        details = " ".join(f"{k}={_short(v, 200)}" for k, v in event.record.items() if k not in skip)
        text = f"{logging.getLevelName(event.level)} {event.event_type} {_escape(details)}"
        self.console.print(f"[{style}]{text}[/]" if style else text, highlight=False)


def _short(value: Any, width: int = 40) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
