"""Ctrl-C on `make dev` / `make airflow` (a real terminal, a real server): exit without make's "Error", and no
process of the server's tree left behind. `make airflow` sizes LocalExecutor to the machine's cores."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import termios
import threading
import time

import pytest

from tests.conftest import REPO
from tests.e2e.servers import VENV_BIN, base_env, free_port, http_ok, wait_for

STAMP = ".venv/.installed-stamp"  # never reinstall into the shared venv from a test


def _controlling_tty() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


EXIT_GRACE = 10.0  # seconds a descendant may still take to finish exiting after make returned (CI once saw one with
# an empty cmdline, its memory already released, at the instant of the check); a real orphan keeps running past it


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, None when it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0], int(fields[19])


def _tree(root: int) -> set[tuple[int, int]]:
    """(pid, start time) of `root` and every live descendant."""
    stats = {int(p): st for p in os.listdir("/proc") if p.isdigit() and (st := _stat(int(p)))}
    found, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats and stats[pid][1] not in "ZX":
            found.add((pid, stats[pid][2]))
        frontier += [child for child, st in stats.items() if st[0] == pid]
    return found


def _alive(tree: set[tuple[int, int]]) -> list[int]:
    return [pid for pid, started in tree if (st := _stat(pid)) and st[2] == started and st[1] not in "ZX"]


def _cmdlines(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize("target", ["dev", "airflow", "dativo airflow standalone"])
def test_ctrl_c_ends_make_cleanly_without_orphans(tmp_path, target):
    """`make dev`, `make airflow`, and `dativo airflow standalone` run directly (no make, no outer supervisor)."""
    port = free_port()
    env = base_env(DATIVO_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster"), TERM="xterm")
    leader, follower = pty.openpty()
    command = ["make", "-o", STAMP, target, f"DAGSTER_PORT={port}", f"AIRFLOW_PORT={port}"]
    if target.startswith("dativo"):
        command = [str(VENV_BIN / "dativo"), "airflow", "standalone", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=REPO,
                            env=env, stdin=follower, stdout=follower, stderr=follower, preexec_fn=_controlling_tty)
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    tree: set[tuple[int, int]] = set()
    url = f"http://127.0.0.1:{port}/server_info" if target == "dev" else f"http://127.0.0.1:{port}/api/v2/monitor/health"
    direct = target.startswith("dativo")
    try:
        def serving() -> bool:  # run directly: once Airflow's components run (not healthy yet: keeps this case short)
            if direct:
                lines = _cmdlines(pid for pid, _ in _tree(proc.pid))
                return sum(any(f"airflow {part}" in c for part in ("scheduler", "api-server", "dag-processor"))
                           for c in lines) >= 2
            return http_ok(url)

        wait_for(serving, 300, interval=2, what=f"{target} serving on {port}",
                 abort=lambda: proc.poll() is not None and b"".join(chunks)[-3000:].decode(errors="replace"))
        if target == "airflow":  # LocalExecutor's workers exist once the scheduler runs: as many as cores
            def workers() -> list[str]:
                return [c for c in _cmdlines(pid for pid, _ in _tree(proc.pid)) if "LocalExecutor" in c]

            wait_for(lambda: bool(workers()), 120, interval=2, what="LocalExecutor workers")
            time.sleep(3)
            assert len(workers()) == len(os.sched_getaffinity(0)), workers()
        tree = _tree(proc.pid) - {(proc.pid, _stat(proc.pid)[2])}
        assert len(tree) >= (2 if direct else 3), _cmdlines(pid for pid, _ in tree)  # supervisor, server, children
        os.write(leader, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group (make and the supervisor)
        code = proc.wait(timeout=120)  # make itself dies of the terminal's SIGINT (-2); its recipe exits 0
        assert code == 0 or not direct, b"".join(chunks)[-3000:].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        leftovers = _alive(tree)
        grace = time.monotonic() + EXIT_GRACE
        while leftovers and time.monotonic() < grace:  # a process already in its exit when make returned
            time.sleep(0.2)
            leftovers = _alive(tree)
        left_behind = _cmdlines(leftovers)  # before the kill, which empties them
        for pid in leftovers:
            os.kill(pid, 9)
    reader.join(timeout=10)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert leftovers == [], left_behind
    assert "make: ***" not in screen and "Error" not in screen.split("stopped (SIGINT)")[-1], screen[-3000:]
    assert "no process left behind" in screen, screen[-3000:]
    assert "SupersessionWarning" not in screen  # make dev runs `dg dev`, not the superseded `dagster dev`
