"""Exact retry waits on Airflow: an Airflow 3.3 RetryPolicy that returns the job's curve as the retry delay.

Airflow's own exponential backoff adds a hashed jitter of up to 2x, rounds fractional delays up and turns 0 s
into 1 s. A policy's `RetryDecision.retry(delay)` is stored as `retry_delay_override` and used as is
(`TaskInstance.next_retry_datetime`: end_date + override), so retry n waits exactly
min(initial * multiplier**(n-1), max_delay) seconds, 0 included.

The policy object lives in the DAG file (the worker re-parses it); only `has_retry_policy` is serialized.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

from .manifest import TaskSpec


def curve_wait(task: TaskSpec, retry_number: int) -> float:
    """The documented curve, computed by its one formula (RetryConfig.delay_before_retry), from the manifest."""
    from dativo_defs.config.job import RetryConfig  # imported when a task fails, not at parse time

    return RetryConfig.model_construct(
        initial_delay_seconds=task.retry_delay_seconds, backoff_multiplier=task.backoff_multiplier,
        max_delay_seconds=task.max_retry_delay_seconds).delay_before_retry(retry_number)


class ExactCurveRetryPolicy(RetryPolicy):
    """Retry n (1-based) after exactly the curve's wait. Permanent failures raise AirflowFailException, which
    Airflow never hands to a policy."""

    def __init__(self, task: TaskSpec) -> None:
        self.task = task

    def wait(self, retry_number: int) -> timedelta:
        return timedelta(seconds=curve_wait(self.task, retry_number))

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        # try_number is the attempt that just failed: the retry that follows is retry number try_number
        return RetryDecision.retry(delay=self.wait(try_number), reason=f"dativo retry curve, retry {try_number}")

    def serialize(self) -> dict[str, Any]:
        return {"retry_delay_seconds": self.task.retry_delay_seconds, "backoff_multiplier": self.task.backoff_multiplier,
                "max_retry_delay_seconds": self.task.max_retry_delay_seconds}
