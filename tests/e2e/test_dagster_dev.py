"""A real `dagster dev` (webserver + daemon) on a free port: sensor ticks launch runs that land data, runs of
one tenant never overlap while two tenants do run at once, and an airflow-owned schedule never fires."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dativo_defs.config.loader import load_runner
from dativo_defs.instance import write_instance_config
from tests.conftest import postgres_database, summary
from tests.e2e.engine_events import overlaps, read_events, tenant_spans
from tests.e2e.servers import write_runner, VENV_BIN, Server, base_env, free_port, http_ok, wait_for
from tests.engine.helpers import read_iceberg

pytestmark = pytest.mark.slow
JOBS = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2"]}
ROWS = 400


def _project(root: Path, catalog: str = "") -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    (data / "rows.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(ROWS)))
    schedules = []
    for tenant, names in {**JOBS, "c": ["c1"]}.items():
        for name in names:
            (root / "jobs" / tenant).mkdir(parents=True, exist_ok=True)
            (root / "jobs" / tenant / f"{name}.yaml").write_text(f"""
tenant_id: {tenant}
source:
  type: csv
  custom_reader: tests.engine.faults:SlowFileSource
  batch_rows: 100
  files: [{{path: ../../data/rows.csv, object: {name}}}]
  incremental: {{strategy: file_modified_time}}
target: {{type: iceberg{catalog}}}
""")
            owner = "\n        orchestrator: airflow" if tenant == "c" else ""
            schedules.append(f"""      - name: {name}_tick
        config: ../jobs/{tenant}/{name}.yaml
        interval_seconds: 2{owner}""")
    return write_runner(root, schedules, owner="dagster", concurrency_per_tenant=1)


def _intervals(event_log: Path) -> dict[str, list[tuple[float, float]]]:
    return tenant_spans(read_events(event_log))


_overlaps = overlaps


@pytest.fixture(params=["sqlite", "postgres"])
def backbone(request, tmp_path, monkeypatch):
    """sqlite: the embedded defaults. postgres: Dagster's instance storage (dagster-postgres) and the Iceberg
    SQL catalog both in a fresh PostgreSQL database — the production backbone."""
    if request.param == "sqlite":
        yield {}
        return
    with postgres_database("dativo_e2e") as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"  # SQLAlchemy 2.1's default: psycopg 3
        monkeypatch.setenv("DATIVO_DAGSTER_POSTGRES_URL", url)  # read by write_instance_config
        yield {"DATIVO_DAGSTER_POSTGRES_URL": url, "catalog_uri": url}


def test_dagster_dev_end_to_end(tmp_path, backbone):
    home, dagster_home, event_log = tmp_path / ".dativo", tmp_path / "dagster_home", tmp_path / "events.jsonl"
    catalog = (f", catalog: {{uri: '{backbone['catalog_uri']}', warehouse: '{home / 'warehouse'}'}}"
               if backbone else "")
    runner = _project(tmp_path, catalog)
    write_instance_config(load_runner(runner), dagster_home)
    if backbone:
        assert "postgres" in (dagster_home / "dagster.yaml").read_text()
    port = free_port()
    env = base_env(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(home), DAGSTER_HOME=str(dagster_home),
                   DATIVO_EVENT_LOG=str(event_log), DATIVO_TEST_SOURCE_SLEEP="1.0",
                   **{k: v for k, v in backbone.items() if k.isupper()})
    server = Server([str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                    env, tmp_path / "dagster_dev.log")
    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/server_info"), 120, what="dagster webserver",
                 abort=lambda: server.process.poll() is not None and server.tail())
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            def every_job_succeeded() -> bool:
                runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
                return {r.tags.get("dativo/job") for r in runs} >= {n for names in JOBS.values() for n in names}
            wait_for(every_job_succeeded, 240, interval=2, what=f"a successful run of every job\n{server.tail()}")
            failed = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
            airflow_owned = instance.get_runs(RunsFilter(tags={"dativo/schedule": "c1_tick"}))
    finally:
        server.stop()
    assert not failed, [r.run_id for r in failed]
    assert airflow_owned == [], "a schedule owned by airflow fired in Dagster"
    spans = _intervals(event_log)
    for tenant in JOBS:
        assert len(spans[tenant]) >= len(JOBS[tenant])
        assert _overlaps(spans[tenant], spans[tenant]) == len(spans[tenant]), f"runs of tenant {tenant} overlapped"
    assert _overlaps(spans["a"], spans["b"]) >= 1, "the two tenants never ran at the same time"
    if backbone:
        from pyiceberg.catalog import load_catalog

        catalog = load_catalog("dativo", type="sql", uri=backbone["catalog_uri"], warehouse=str(home / "warehouse"))
        read = lambda table: catalog.load_table(table).scan().to_arrow()  # noqa: E731
    else:
        read = lambda table: read_iceberg(home, table)  # noqa: E731
    for names in JOBS.values():
        for name in names:
            assert len(read(f"{name[0]}.{name}")) == ROWS  # repeated ticks added nothing twice
    summary(f"E2E dagster dev [{'postgres' if backbone else 'sqlite'}]: {sum(len(v) for v in spans.values())} runs, "
          f"no overlap within a tenant, {_overlaps(spans['a'], spans['b'])} cross-tenant overlaps, airflow-owned never fired")
