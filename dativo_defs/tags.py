"""Tag and metadata keys shared by the Dagster definitions and the Airflow bridge (one place for each name)."""

TENANT = "dativo/tenant"
JOB = "dativo/job"
SOURCE = "dativo/source"
SCHEDULE = "dativo/schedule"
OWNER = "dativo/owner"
RETRY_MULTIPLIER = "dativo/retry_backoff_multiplier"
RETRY_MAX_DELAY = "dativo/retry_max_delay_seconds"
JOB_FILE = "dativo/job_file"
MAX_CONCURRENT_RUNS = "dativo/max_concurrent_runs"
INTERVAL_SECONDS = "dativo/interval_seconds"
POOL_SLOTS = "dativo/pool_slots"  # concurrency_per_tenant, carried on each asset op next to its pool
PAUSED_REASON = "dativo/paused_reason"
RETRIES_OWNER = "dativo/retries_owner"  # run tag: "airflow" when Airflow retries and Dagster must not


def tenant_pool(tenant_id: str) -> str:
    """The concurrency pool of a tenant: a Dagster pool and an Airflow pool of the same name."""
    return f"dativo_tenant_{tenant_id}"
