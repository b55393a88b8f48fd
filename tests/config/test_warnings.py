"""`dativo validate` warnings of a valid job (config/warnings.py)."""

from __future__ import annotations

from dativo_defs.config.loader import load_job
from dativo_defs.config.warnings import job_warnings

JOB = """
    tenant_id: t10
    source:
      type: sqlite
      connection: {{database: shop.db}}
      tables: [{{name: orders, primary_key: [id]}}]
      incremental: {{cursor_field: ts, {lookback}}}
    target: {{type: iceberg, mode: {mode}}}
"""


def test_lookback_in_append_mode_asks_for_merge_with_a_primary_key(write):
    append = load_job(write("jobs/a.yaml", JOB.format(lookback="lookback: 3600", mode="append")))
    (warning,) = job_warnings(append)
    assert "lookback 3600 with target mode append" in warning and "10,000 rows" in warning
    assert "`mode: merge` with a `primary_key`" in warning
    assert job_warnings(load_job(write("jobs/b.yaml", JOB.format(lookback="lookback: 3600", mode="merge")))) == []
    assert job_warnings(load_job(write("jobs/c.yaml", JOB.format(lookback="lookback: 0", mode="append")))) == []
    legacy = load_job(write("jobs/d.yaml", JOB.format(lookback="lookback_seconds: 60", mode="append")))
    assert legacy.config.source.incremental.window == 60 and len(job_warnings(legacy)) == 1
