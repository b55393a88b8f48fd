"""Child process for the kill and overlap tests: run a job whose file source sleeps between batches.

    python -m tests.engine.slow_run JOB_FILE SLEEP_SECONDS [die-after-commit]

Prints the RunResult as one JSON line on stdout and exits with its exit code. `die-after-commit` SIGKILLs the
process right after an Iceberg commit landed, before the run removes its write journal."""

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from tests.engine import faults

if __name__ == "__main__":
    patch = pytest.MonkeyPatch()
    faults.install(patch, sleep_seconds=float(sys.argv[2]))
    if sys.argv[3:] == ["die-after-commit"]:
        from dativo_defs.engine.targets.iceberg_journal import Journal

        patch.setattr(Journal, "discard", lambda self: os.kill(os.getpid(), signal.SIGKILL))
    result = run_job(load_job(Path(sys.argv[1])))
    print(json.dumps(result.to_dict(), default=str), flush=True)
    sys.exit(result.exit_code)
