"""The supervisor behind `make dev` / `make airflow`: Ctrl-C leaves no process behind, also a descendant that
started its own session with an environment of its own (found by ancestry, not by session or marker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

CHILD = """
import subprocess, sys, time
# a grandchild in a new session, without the supervisor's marker in its environment (as a server's forked worker
# that calls setsid and rewrites its title would look)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True,
                              env={"PATH": "/usr/bin:/bin"})
open(sys.argv[1], "w").write(str(grandchild.pid))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_ctrl_c_ends_a_descendant_that_left_the_session_and_the_marker(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    supervisor = subprocess.Popen([sys.executable, "-m", "dativo_defs.supervise", "--", sys.executable, "-c", CHILD,
                                   str(pid_file)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                  stderr=subprocess.PIPE, text=True)
    grandchild = 0
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        grandchild = int(pid_file.read_text())
        time.sleep(1.0)  # the supervisor's next look at its tree
        assert _alive(grandchild)
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(grandchild), "the grandchild outlived the supervisor"
        assert "no process left behind" in supervisor.stderr.read()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        if grandchild and _alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
