"""Where upstream-format data lands on object storage: an `s3` target (Parquet under s3://bucket/prefix, keys from
the recipe's ${AWS_*} templates) and an Iceberg target without Nessie (the files under s3://bucket/prefix),
against moto's S3 server, read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunContext
from dativo_defs.engine.runner import run_job

from .project import job, upstream_project, write

JOB = """
    tenant_id: acme
    source_connector: csv
    source_connector_path: /app/connectors/csv.yaml
    target_connector: {kind}
    target_connector_path: /app/connectors/{kind}.yaml
    asset: people
    asset_path: /app/assets/people.yaml
    source:
      files: [{{path: data/people.csv, object: people}}]
    target:
      connection:
{connection}
"""


@pytest.fixture
def people(lake):
    app, endpoint, fs = lake
    write(app / "data/people.csv", "id;name;score\n1;ann;1.5\n2;bob;2.5\n3;cid;\n")
    return app, endpoint, fs


def test_s3_target_writes_parquet_under_bucket_prefix(people) -> None:
    app, endpoint, fs = people
    file = job(app, "jobs/acme/people_s3.yaml", JOB.format(kind="s3", connection=f"""\
        bucket: lake
        prefix: raw/acme/people
        endpoint: "{endpoint}\""""))
    result = run_job(load_job(file), RunContext())
    assert result.status.value == "success", result.error
    # the recipe's partition_by_default [ingest_date]: Hive-style folders, as upstream's Parquet writer lays them out
    files = [f for f in fs.find("lake/raw/acme/people") if f.endswith(".parquet")]  # <prefix>/<object>/ingest_date=
    assert files and all(f.startswith("lake/raw/acme/people/people/ingest_date=") for f in files), files
    landed = ds.dataset("lake/raw/acme/people/people", filesystem=fs, format="parquet", partitioning="hive").to_table()
    assert sorted(landed.column("id").to_pylist()) == [1, 2, 3] and len(set(landed.column("ingest_date"))) == 1


def test_iceberg_target_without_nessie_keeps_files_under_bucket_prefix(people) -> None:
    app, endpoint, fs = people
    file = job(app, "jobs/acme/people_ice.yaml", JOB.format(kind="iceberg", connection=f"""\
        s3: {{bucket: lake, prefix: raw/acme/people_ice, endpoint: "{endpoint}", path_style_access: true}}"""))
    loaded = load_job(file)
    assert loaded.config.target.catalog.warehouse == "s3://lake/raw/acme/people_ice"
    result = run_job(loaded, RunContext())
    assert result.status.value == "success", result.error
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("dativo", type="sql", uri=loaded.config.target.catalog.uri, **{
        "s3.endpoint": endpoint, "s3.access-key-id": "testing-key", "s3.secret-access-key": "testing-secret",
        "s3.region": "us-east-1"})
    table = catalog.load_table("acme.people")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]
    assert table.location() == "s3://lake/raw/acme/people_ice"  # upstream's exact location: bucket/prefix
    files = [f for f in fs.find("lake/raw/acme/people_ice") if f.endswith(".parquet")]
    assert files and all(f.startswith("lake/raw/acme/people_ice/data/ingest_date=") for f in files)


def test_several_objects_get_one_location_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream put every object under one prefix; one Iceberg table per object here needs its own folder."""
    from dativo_defs.config.errors import ConfigError

    monkeypatch.setenv("DATIVO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATIVO_APP_ROOT", raising=False)
    app = upstream_project(tmp_path / "app")
    text = JOB.format(kind="iceberg", connection="        s3: {bucket: lake, prefix: raw/acme}").replace(
        "files: [{path: data/people.csv, object: people}]",
        "files: [{path: data/people.csv, object: people}, {path: data/more.csv, object: more}]")
    loaded = load_job(job(app, "jobs/acme/two.yaml", text))
    assert loaded.config.target.location == "s3://lake/raw/acme/{table}"
    assert [loaded.config.target.table_location(o) for o in loaded.config.source.objects()] == [
        "s3://lake/raw/acme/people", "s3://lake/raw/acme/more"]
    # a dativo-format job naming one location for two tables is refused at validate
    dativo_job = write(tmp_path / "d.yaml", """
        tenant_id: acme
        source: {type: csv, files: [{path: a.csv, object: a}, {path: b.csv, object: b}]}
        target: {type: iceberg, location: s3://lake/raw/acme}
    """)
    with pytest.raises(ConfigError) as caught:
        load_job(dativo_job)
    assert "{table}" in caught.value.issues[0].message and "2 tables" in caught.value.issues[0].message
