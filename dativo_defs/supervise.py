"""`python -m dativo_defs.supervise -- CMD ...`: run a long-lived server (dagster dev, Airflow standalone) so that
Ctrl-C ends it cleanly: exit code 0 (so `make` prints no "Error 241"), and no process of its tree left behind.

The command runs in its own session. Ctrl-C (SIGINT) or SIGTERM to this process is passed on to every process of
that session as SIGINT (the servers' own clean shutdown); a tree still running after GRACE_SECONDS / 2 gets
SIGTERM, after GRACE_SECONDS SIGKILL. Once the command has ended, whatever is left of its tree (its session, and
any descendant that started its own session, found by a marker in its environment; Linux /proc) is terminated.
Used by `make dev`, `make airflow` and `dativo airflow standalone` (run directly, Ctrl-C exits 0 too)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

MARKER_ENV = "DATIVO_SUPERVISED"
GRACE_SECONDS = 30.0


def tree_processes(session: int, marker: str, variable: str = MARKER_ENV,
                   known: set[tuple[int, int]] | None = None) -> list[int]:
    """Pids of live processes in `session`, or whose environment carries variable=marker (a descendant that
    started its own session; a process that rewrote its title may have lost its environment, but not its
    session), or in `known` (descendants seen before, by pid and start time: a process that started its own
    session *and* rewrote its title is still found, also once its parent is gone). Linux /proc; [] elsewhere."""
    needle = f"{variable}={marker}".encode()
    found = []
    for pid, fields in _processes().items():
        if pid == os.getpid():
            continue
        if int(fields[3]) == session or (pid, int(fields[19])) in (known or ()):
            found.append(pid)
            continue
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return found


def descendants(root: int, known: set[tuple[int, int]]) -> None:
    """Add (pid, start time) of every live descendant of `root` to `known` (while their parents still live)."""
    processes = _processes()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, fields in processes.items():
            if int(fields[1]) == parent and (pid, int(fields[19])) not in known:
                known.add((pid, int(fields[19])))
                frontier.append(pid)


def _processes() -> dict[int, list[str]]:
    """pid -> /proc/<pid>/stat fields after the command name (state first), of every live non-zombie process."""
    out = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone meanwhile
            continue
        if fields[0] not in ("Z", "X"):  # a zombie waits for its parent to reap it: already gone
            out[int(entry.name)] = fields
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already, or not ours
            os.kill(pid, sig)


def supervise(command: list[str], grace: float = GRACE_SECONDS, env: dict[str, str] | None = None) -> int:
    """Run `command` (with `env`, default this process's environment) until it ends or Ctrl-C/SIGTERM stops it;
    returns its exit code, or 0 when it was stopped."""
    marker = uuid.uuid4().hex  # this supervisor's own: its ancestors (make, a shell) never carry it
    child = subprocess.Popen(command, env={**(os.environ if env is None else env), MARKER_ENV: marker},
                             start_new_session=True)
    stopping: list[tuple[int, float]] = []
    known: set[tuple[int, int]] = set()  # every descendant seen, so that none escapes by changing session

    def tree() -> list[int]:
        return tree_processes(child.pid, marker, known=known)

    def stop(signum, _frame) -> None:
        if not stopping:
            stopping.append((signum, time.monotonic()))
            descendants(child.pid, known)
            _signal(tree(), signal.SIGINT)  # the servers' own clean shutdown

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    escalated = set()
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        descendants(child.pid, known)
        if stopping:  # a server that does not finish its shutdown in time is terminated, then killed
            waited = time.monotonic() - stopping[0][1]
            for after, sig in ((grace / 2, signal.SIGTERM), (grace, signal.SIGKILL)):
                if waited > after and sig not in escalated:
                    escalated.add(sig)
                    _signal(tree(), sig)
    ended = time.monotonic()
    while (left := tree()) and time.monotonic() - ended < grace / 3:
        _signal(left, signal.SIGTERM)  # the command ended: whatever is left of its tree ends too
        time.sleep(0.5)
    _signal(tree(), signal.SIGKILL)  # no orphans, whatever they do with signals
    if stopping:
        print(f"\nstopped ({signal.Signals(stopping[0][0]).name}); no process left behind", file=sys.stderr)
        return 0
    return code if code >= 0 else 128 - code


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: python -m dativo_defs.supervise -- COMMAND [ARGS...]")
    sys.exit(supervise(args))


if __name__ == "__main__":
    main()
