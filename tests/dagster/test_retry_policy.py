"""Dagster's declared RetryPolicy (errors raised outside `run_job`) follows the job's curve exactly, or is not
declared: Dagster's Backoff.EXPONENTIAL (delay * (2**n - 1)) cannot express initial * multiplier**(n-1)."""

from __future__ import annotations

import pytest

from dativo_defs.assets import build_job_assets, retry_policy
from dativo_defs.config.loader import load_job
from dativo_defs.contract import RetryCurve


@pytest.mark.parametrize(("retry", "declared"), [
    ("{max_retries: 3, initial_delay_seconds: 4, backoff_multiplier: 1}", [4.0, 4.0, 4.0]),
    ("{max_retries: 2, initial_delay_seconds: 0, backoff_multiplier: 3}", [0.0, 0.0]),
    ("{max_retries: 3, initial_delay_seconds: 2, backoff_multiplier: 2, max_delay_seconds: 2}", [2.0, 2.0, 2.0]),
    ("{max_retries: 3, initial_delay_seconds: 1, backoff_multiplier: 2}", None),
    ("{max_retries: 0}", None),
])
def test_declared_policy_is_the_curve_or_absent(tmp_path, retry, declared):
    job_file = tmp_path / "t" / "j.yaml"
    job_file.parent.mkdir()
    job_file.write_text("tenant_id: t\nsource: {type: csv, files: [{path: x.csv, object: o}]}\ntarget: {type: iceberg}\n"
                        f"retry_config: {retry}\n")
    job = load_job(job_file)
    policy = retry_policy(job)
    curve = RetryCurve.from_config(job.config.retry_config)
    if declared is None:
        assert policy is None
    else:
        assert curve.waits() == declared
        assert (policy.max_retries, float(policy.delay or 0), policy.backoff) == (len(declared), declared[0], None)
    assert build_job_assets(job, dagster_retries=False).op.retry_policy is None  # Airflow owns the retries
