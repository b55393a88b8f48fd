"""Run a command on a pseudo-terminal (as a person at a terminal would) and capture what it printed."""

from __future__ import annotations

import os
import pty
import re
import subprocess
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_tty(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
               stdin_text: str | None = None) -> tuple[int, str]:
    """(exit code, everything written to the terminal with ANSI codes removed). stdin, stdout and stderr are the
    terminal; `stdin_text` is typed into it."""
    leader, follower = pty.openpty()
    environ = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color", **(env or {})}
    proc = subprocess.Popen(args, cwd=cwd, env=environ, stdin=follower, stdout=follower, stderr=follower,
                            close_fds=True)
    os.close(follower)
    if stdin_text is not None:
        os.write(leader, stdin_text.encode())
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout)
    os.close(leader)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "\n")
