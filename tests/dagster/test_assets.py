"""The Dagster definitions built from the configs: materialize in-process, metadata, retries."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from dativo_defs.assets import build_job_assets
from dativo_defs.config.loader import load_job
from dativo_defs.sample_data import SAMPLE_ROWS, create_sample_db
from tests.engine import faults
from tests.engine.helpers import read_iceberg


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def _materialize(job, instance, **kwargs):
    return materialize([build_job_assets(job)], instance=instance, raise_on_error=False, **kwargs)


def test_example_file_job_lands_and_carries_metadata(example_project, instance):
    job = load_job(example_project / "jobs/acme/orders.yaml")
    result = _materialize(job, instance)
    assert result.success
    landed = read_iceberg(example_project / ".dativo", "acme.orders")
    assert len(landed) == 300 and sorted(landed.column("order_id").to_pylist()) == list(range(1, 301))
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == AssetKey(["acme", "orders", "orders"])
    meta = event.materialization.metadata
    assert meta["rows_written"].value == 300 and meta["snapshot_id"].value != "none"
    columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert columns == ["order_id", "customer_id", "amount", "status", "ordered_at"]
    assert "password" not in json.dumps({k: str(v) for k, v in meta.items()}).lower()


def test_multi_object_sqlite_job_is_one_op_with_two_assets(example_project, instance):
    create_sample_db()
    job = load_job(example_project / "jobs/globex/catalog.yaml")
    assets_def = build_job_assets(job)
    assert assets_def.keys == {AssetKey(["globex", "catalog", "products"]), AssetKey(["globex", "catalog", "eur_invoices"])}
    result = _materialize(job, instance)
    assert result.success, result.all_events
    assert len(read_iceberg(example_project / ".dativo", "globex_shop.products")) == SAMPLE_ROWS["products"]


def _retry_job(write, dativo_home, max_retries: int) -> Path:
    (dativo_home.parent / "data").mkdir(parents=True, exist_ok=True)
    (dativo_home.parent / "data/r.csv").write_text("id\n" + "\n".join(str(i) for i in range(1000)) + "\n")
    return write("jobs/t6/retry.yaml", f"""
        tenant_id: t6
        source: {{type: csv, batch_rows: 100, files: [{{path: ../../data/r.csv}}]}}
        target: {{type: iceberg}}
        retry_config: {{max_retries: {max_retries}, initial_delay_seconds: 0.5, backoff_multiplier: 3,
                        max_delay_seconds: 1.0}}
    """)


def _job_started_times(caplog) -> list[float]:
    from datetime import datetime

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dativo"]
    return [datetime.fromisoformat(line["timestamp"]).timestamp() for line in lines if line["event_type"] == "job_started"]


def test_transient_fault_is_retried_on_the_jobs_curve(write, dativo_home, monkeypatch, instance, caplog):
    caplog.set_level(logging.INFO, logger="dativo")
    job = load_job(_retry_job(write, dativo_home, max_retries=3))
    faults.install(monkeypatch, fail_after=3, fail_runs=2)
    result = _materialize(job, instance)
    assert result.success
    starts = _job_started_times(caplog)
    assert len(starts) == 3
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert 0.5 <= gaps[0] < 1.4 and 1.0 <= gaps[1] < 1.9  # 0.5 s, then min(0.5*3, 1.0) = 1.0 s
    assert sorted(read_iceberg(dativo_home, "t6.r").column("id").to_pylist()) == list(range(1000))
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 2 and "transient failure: " in str(retries[0].event_specific_data.error)


def test_permanent_fault_is_not_retried(write, dativo_home, monkeypatch, instance, caplog):
    caplog.set_level(logging.INFO, logger="dativo")
    job = load_job(_retry_job(write, dativo_home, max_retries=3))
    faults.install(monkeypatch, fail_after=1, error=PermissionError)
    result = _materialize(job, instance)
    assert not result.success
    assert len(_job_started_times(caplog)) == 1
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "permanent failure: PermissionError: injected fault" in str(failure.event_specific_data.error)


def test_transient_fault_past_max_retries_fails(write, dativo_home, monkeypatch, instance, caplog):
    caplog.set_level(logging.INFO, logger="dativo")
    job = load_job(_retry_job(write, dativo_home, max_retries=1))
    faults.install(monkeypatch, fail_after=0)
    assert not _materialize(job, instance).success
    assert len(_job_started_times(caplog)) == 2
