"""`python -m dativo_defs.supervise -- CMD ...`: run a long-lived server (dagster dev, Airflow standalone) so that
Ctrl-C ends it cleanly: exit code 0 (so `make` prints no "Error 241"), and no process of its tree left behind.

The command runs in its own session. Ctrl-C (SIGINT) or SIGTERM to this process is passed on to the command's
process group as SIGINT (the servers' own clean shutdown); after `GRACE_SECONDS` whatever is left of the group,
and any descendant that moved to another group or session (found by a marker in its environment, Linux /proc),
is killed. Used by `make dev` and `make airflow`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

MARKER_ENV = "DATIVO_SUPERVISED"
GRACE_SECONDS = 30.0


def marked_processes(marker: str, variable: str = MARKER_ENV) -> list[int]:
    """Pids of live processes whose environment carries variable=marker (Linux /proc; [] elsewhere)."""
    needle = f"{variable}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


def _alive(pid: int) -> bool:
    """A running process (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def supervise(command: list[str], grace: float = GRACE_SECONDS) -> int:
    marker = uuid.uuid4().hex  # this supervisor's own: its ancestors (make, a shell) never carry it
    child = subprocess.Popen(command, env={**os.environ, MARKER_ENV: marker}, start_new_session=True)
    stopping: list[int] = []

    def stop(signum, _frame) -> None:
        if not stopping:
            stopping.append(signum)
            _signal_group(child.pid, signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = child.wait()
    started = time.monotonic()
    while (left := marked_processes(marker)) and time.monotonic() - started < grace:
        # The command ended; what is left of its tree gets the clean signal first, then SIGTERM.
        _signal_group(child.pid, signal.SIGINT)
        if time.monotonic() - started > grace / 3:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        time.sleep(0.5)
    for pid in marked_processes(marker):  # past the grace period: no orphans, whatever they do with signals
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if stopping:
        print(f"\nstopped ({signal.Signals(stopping[0]).name}); no process left behind", file=sys.stderr)
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
