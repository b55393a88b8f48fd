"""Tag and metadata keys shared by the Dagster definitions and the Airflow bridge (one place for each name)."""

TENANT = "dativo/tenant"
JOB = "dativo/job"
SOURCE = "dativo/source"
SCHEDULE = "dativo/schedule"
JOB_FILE = "dativo/job_file"
RETRIES_OWNER = "dativo/retries_owner"  # run tag: "airflow" when Airflow retries and Dagster must not


def tenant_pool(tenant_id: str) -> str:
    """The concurrency pool of a tenant: a Dagster pool and an Airflow pool of the same name."""
    return f"dativo_tenant_{tenant_id}"
