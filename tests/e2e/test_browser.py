"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium; no browser is downloaded) against a
real `dagster dev` and a real Airflow standalone. Assertions are on visible text; screenshots are saved under
test-artifacts/ for people to look at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, REQUIRE_SERVERS, summary
from tests.e2e.airflow_server import admin_password, start_standalone
from tests.e2e.servers import VENV_BIN, Server, base_env, free_port, http_ok, wait_for

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = "chromium not installed (apt-get install chromium; .ci/run does)"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(f"BROWSER MISSING — {message}")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _goto(page, url: str, attempts: int = 3) -> None:
    """Navigate, retrying when the SPA's own client-side navigation aborts ours (net::ERR_ABORTED)."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            page.goto(url, wait_until="domcontentloaded")
            return
        except Error as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == attempts - 1:
                raise
            page.wait_for_timeout(1000)


# A broken job (shown in both UIs as a placeholder with this error) and a Europe/Berlin cron (its zone on
# Airflow's DAG details), next to the job the tests run: one server start per orchestrator covers all three.
BROKEN = "shop_refunds"
BROKEN_ERROR = "refunds.yaml:2: source: unknown type 'csvv'"
NIGHTLY = "shop_orders_nightly"


def _project(root: Path, owner: str) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data/orders.csv").write_text("id,amount\n" + "".join(f"{i},{i * 2.5}\n" for i in range(50)))
    (root / "jobs/shop").mkdir(parents=True)
    (root / "jobs/shop/orders.yaml").write_text(
        "tenant_id: shop\nsource: {type: csv, files: [{path: ../../data/orders.csv, object: orders}]}\n"
        "target: {type: iceberg}\n")
    (root / "jobs/shop/refunds.yaml").write_text("tenant_id: shop\nsource: {type: csvv, files: []}\n"
                                                 "target: {type: iceberg}\n")
    runner = root / "configs/runner.yaml"
    runner.parent.mkdir()
    runner.write_text(f"runner:\n  orchestrator:\n    type: {owner}\n    schedules:\n"
                      "      - {name: shop_orders, config: ../jobs/shop/orders.yaml, interval_seconds: 5}\n"
                      f"      - {{name: {BROKEN}, config: ../jobs/shop/refunds.yaml, interval_seconds: 60}}\n"
                      f"      - {{name: {NIGHTLY}, config: ../jobs/shop/orders.yaml, cron: '0 3 * * *', "
                      "timezone: Europe/Berlin, enabled: false}\n")
    return runner


def test_dagster_ui_shows_assets_and_materialization_metadata(browser, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from dativo_defs.config.loader import load_runner
    from dativo_defs.instance import write_instance_config

    runner = _project(tmp_path, "dagster")
    dagster_home = tmp_path / "dagster_home"
    write_instance_config(load_runner(runner), dagster_home)
    port = free_port()
    env = base_env(DATIVO_RUNNER_CONFIG=str(runner), DATIVO_HOME=str(tmp_path / ".dativo"),
                   DAGSTER_HOME=str(dagster_home))
    server = Server([str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                    env, tmp_path / "dagster.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(f"{base}/server_info"), 120, what="dagster webserver",
                 abort=lambda: server.process.poll() is not None and server.tail())
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            wait_for(lambda: instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS])), 180, interval=2,
                     what="a successful sensor run")
            run_id = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))[-1].run_id
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/asset-groups/shop", wait_until="domcontentloaded")
        page.get_by_text("orders").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "dagster_asset_graph.png"))
        page.goto(f"{base}/assets/shop/orders/orders", wait_until="domcontentloaded")
        page.get_by_text("rows_written").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "rows_written" in body and "snapshot_id" in body and "cursor_after" in body
        page.screenshot(path=str(ARTIFACTS / "dagster_asset_materialization.png"), full_page=True)
        page.goto(f"{base}/runs/{run_id}", wait_until="domcontentloaded")  # engine events in the structured log
        page.get_by_text(re.compile(r"commit object=orders .*rows=50")).first.wait_for(timeout=60_000)
        assert page.get_by_text(re.compile(r"^job_finished status=success")).count() == 1
        page.get_by_placeholder("Filter").first.fill("job_")  # searchable: the engine's start and finish events
        page.get_by_text(re.compile(r"^job_started ")).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dagster_run_engine_events.png"), full_page=True)
        _goto(page, f"{base}/automation")  # the broken job: a stopped placeholder beside the working sensor
        page.get_by_text(BROKEN).first.wait_for(timeout=60_000)
        page.get_by_text("shop_orders", exact=True).first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)  # the rows' status toggles load after the names
        page.screenshot(path=str(ARTIFACTS / "dagster_broken_job_automation.png"), full_page=True)
        _goto(page, f"{base}/locations/dativo/sensors/{BROKEN}")
        page.get_by_text(re.compile(re.escape(BROKEN_ERROR))).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert f"INVALID schedule '{BROKEN}'" in body and "Fix: edit the file at the line shown" in body
        page.screenshot(path=str(ARTIFACTS / "dagster_broken_job.png"), full_page=True)
        page.close()
        summary("E2E browser: Dagster UI asset graph, latest materialization metadata, the engine's events in a "
                "run's structured log, and a broken job as a stopped placeholder with file:line: field: error and "
                "the fix hint visible (screenshots in test-artifacts/)")
    finally:
        server.stop()


def test_airflow_ui_login_dag_list_and_grid(browser, tmp_path):
    runner = _project(tmp_path, "airflow")
    airflow = start_standalone(tmp_path, {"shop_orders"}, DATIVO_RUNNER_CONFIG=str(runner),
                               DATIVO_HOME=str(tmp_path / ".dativo"))
    base, password = airflow.base_url, admin_password(airflow.home)
    try:
        run = ("shop_orders", airflow.trigger("shop_orders"))
        broken = airflow.dags()[BROKEN]  # as created: paused (unpaused below only to show a run fails)
        airflow.unpause(BROKEN)
        refusal = (BROKEN, airflow.trigger(BROKEN))  # a manual run of the placeholder fails at once with the error
        states = airflow.wait_runs([run, refusal], timeout=240)
        assert states[run] == "success", airflow.server.tail(60)
        failed, refused = states[refusal], airflow.log(BROKEN, refusal[1], "invalid_config", 1)
        log = airflow.log("shop_orders", run[1], "shop__orders", 1)
        for event in ("job_started", "commit", "job_finished"):  # each engine event once, no alembic chatter
            assert log.count(f'\\"event_type\\": \\"{event}\\"') + log.count(f'"event_type": "{event}"') == 1, log[-3000:]
        assert "alembic" not in log, log[-3000:]

        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/", wait_until="domcontentloaded")
        page.locator("input[name='username']").fill("admin", timeout=60_000)
        page.locator("input[name='password']").fill(password)
        page.locator("button[type='submit']").click()
        page.wait_for_url(lambda url: "login" not in url, timeout=60_000)  # the login redirect must finish first
        page.wait_for_load_state("load")
        _goto(page, f"{base}/dags")
        page.get_by_text("shop_orders").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_dag_list.png"))
        _goto(page, f"{base}/dags/shop_orders")
        page.get_by_text("shop__orders").first.wait_for(timeout=60_000)  # the task row of the grid
        page.get_by_text("Failed Runs").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Latest Run" in body and "tenant:shop" in body
        page.screenshot(path=str(ARTIFACTS / "airflow_dag_grid.png"), full_page=True)
        _goto(page, f"{base}/dags/shop_orders/runs")
        page.get_by_text(re.compile("success", re.IGNORECASE)).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_dag_runs.png"), full_page=True)
        _goto(page, f"{base}/dags/shop_orders/runs/{run[1]}/tasks/shop__orders")  # the task log
        page.get_by_text(re.compile("job_finished")).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_task_log.png"), full_page=True)

        # The broken job: a paused placeholder DAG tagged dativo:invalid, the error on its details and in its docs
        assert (broken["is_paused"], [t["name"] for t in broken["tags"]]) == (True, ["dativo:invalid"])
        assert failed == "failed" and BROKEN_ERROR in refused, refused[-2000:]
        _goto(page, f"{base}/dags?tags=dativo%3Ainvalid")
        page.get_by_text(BROKEN).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_broken_job_list.png"))
        _goto(page, f"{base}/dags/{BROKEN}/details")
        page.get_by_text(re.compile(re.escape(BROKEN_ERROR))).first.wait_for(timeout=60_000)
        page.get_by_role("button", name=re.compile("Dag Docs", re.IGNORECASE)).first.click()
        page.get_by_text(re.compile("edit the file at the line shown")).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_broken_job.png"), full_page=True)

        # The cron DAG's zone: its Schedule row (the timetable's summary); the Timezone row is Airflow's server zone
        details = airflow.call("GET", f"/dags/{NIGHTLY}/details")
        assert details["timetable_summary"] == "0 3 * * * (Europe/Berlin)" and details["timezone"] == "UTC", details
        _goto(page, f"{base}/dags/{NIGHTLY}/details")
        page.get_by_text("0 3 * * * (Europe/Berlin)").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "airflow_dag_details_timezone.png"), full_page=True)
        summary("E2E browser: Airflow UI login, DAG list, DAG grid, a successful run, its task log with each engine "
                "event once, a broken job as a paused dativo:invalid DAG with its error (a manual run fails with "
                "it), and a cron DAG's Europe/Berlin zone on its details page (screenshots in test-artifacts/)")
        page.close()
    finally:
        airflow.server.stop()
