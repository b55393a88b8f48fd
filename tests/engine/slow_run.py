"""Child process for the SIGKILL test: run a job whose source sleeps between batches."""

import sys

import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
from tests.engine import faults

if __name__ == "__main__":
    patch = pytest.MonkeyPatch()
    faults.install(patch, sleep_seconds=float(sys.argv[2]))
    result = run_job(load_job(__import__("pathlib").Path(sys.argv[1])))
    sys.exit(result.exit_code)
