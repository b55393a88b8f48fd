"""`python -m airflow_bridge.background`: the compile a parse starts when the manifest is stale or missing.

It runs in its own session, outside the parse (so Airflow's import timeout never kills it), with the parse's
environment (the same runner file, DATIVO_HOME and variables), and appends what it did to
`manifest-*.compile.log` beside the manifest.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import UTC, datetime

from .settings import manifest_path

log = logging.getLogger(__name__)


def start() -> subprocess.Popen | None:
    """Start a background compile and return at once; None (logged) when it cannot start, e.g. on a read-only
    DATIVO_HOME: the parse then only reports, and the deploy's `dativo airflow compile` is the way."""
    path = manifest_path(".compile.log")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as out:
            return subprocess.Popen([sys.executable, "-m", "airflow_bridge.background"], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        log.warning("dativo: cannot start a background compile (%s): run `dativo airflow compile`", exc)
        return None


def main() -> int:
    from .cache import compile_if_stale

    started = time.perf_counter()
    outcome = compile_if_stale()
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {outcome} ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
