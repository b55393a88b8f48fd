"""The Dagster -> bridge seam is typed: rewording every human-readable reason and description changes no
behaviour on either side (pause state, ownership, timetables and their fire instants, retries and their waits,
pools, intervals), and the contract round-trips through Dagster's metadata unchanged."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_bridge.explain import airflow_fires, airflow_retry_waits, explain
from airflow_bridge.settings import ExecutionMode
from dativo_defs import schedules
from dativo_defs.config.loader import load_project
from dativo_defs.contract import OpContract, TriggerContract, op_contract, trigger_contract
from dativo_defs.definitions import build_definitions

START = datetime(2026, 3, 27, tzinfo=timezone.utc)


def reword(text: str) -> str:
    """Another sentence entirely: no word of the original survives in a place code could look."""
    return "ZZ " + " ".join(reversed(text.split())).swapcase()


def _airflow_side(defs, project):
    from airflow_bridge import render
    from airflow_bridge.compile import compile_manifest

    manifest = compile_manifest(defs, project)
    return manifest, {spec.dag_id: render.render_dag(spec, ExecutionMode.IN_PROCESS) for spec in manifest.dags}


def behaviour(defs, manifest, dags) -> dict:
    """Everything that decides what runs where and when, on both sides; no human text."""
    out: dict = {}
    for trigger in [*defs.schedules, *defs.sensors]:
        out[("dagster", trigger.name)] = (str(trigger.default_status), getattr(trigger, "cron_schedule", None),
                                          getattr(trigger, "execution_timezone", None),
                                          getattr(trigger, "minimum_interval_seconds", None))
    for spec in manifest.dags:
        dag = dags[spec.dag_id]
        table = dag.timetable
        fires = airflow_fires(table, START, 12) if hasattr(table, "clock") else None
        out[("airflow", spec.dag_id)] = (
            dag.is_paused_upon_creation, spec.paused, spec.paused_reason, spec.owner, spec.kind,
            table.serialize() if hasattr(table, "serialize") else type(table).__name__, fires, dag.max_active_runs,
            sorted(dag.tags),
            [(t.task_id, t.retries, airflow_retry_waits(t), t.pool, t.pool_slots) for t in dag.tasks])
    return out


def test_rewording_every_reason_and_description_changes_no_behaviour(example_project, dativo_home, monkeypatch):
    runner = example_project / "configs/runner.yaml"
    # a disabled schedule that Airflow would own: the case a prose test ("startswith('disabled')") got wrong
    runner.write_text(runner.read_text().replace("        enabled: false", "        enabled: false\n"
                                                 "        orchestrator: airflow"))
    project = load_project(runner)
    defs = build_definitions(project)
    manifest, dags = _airflow_side(defs, project)
    before = behaviour(defs, manifest, dags)
    texts_before = {d: dag.description for d, dag in dags.items()} | {t.name: t.description for t in defs.schedules}

    with monkeypatch.context() as patch:
        from airflow_bridge import render

        original_contract = schedules.trigger_contract_for
        original_describe = schedules._describe
        patch.setattr(schedules, "trigger_contract_for", lambda entry: original_contract(entry).model_copy(
            update={"description": reword(original_contract(entry).description)}))
        patch.setattr(schedules, "_describe", lambda c: reword(original_describe(c)))
        patch.setattr(render, "PAUSED_TEXT", {k: reword(v) for k, v in render.PAUSED_TEXT.items()})
        reworded_defs = build_definitions(project)
        reworded_manifest, reworded_dags = _airflow_side(reworded_defs, project)
        after = behaviour(reworded_defs, reworded_manifest, reworded_dags)
        texts_after = ({d: dag.description for d, dag in reworded_dags.items()}
                       | {t.name: t.description for t in reworded_defs.schedules})
        rows = explain(reworded_defs, reworded_dags, start=START)

    changed = {k for k in texts_before if k in texts_after and texts_before[k] != texts_after[k]}
    assert len(changed) >= 6, "the rewording did not reach the descriptions: the test would prove nothing"
    assert after == before
    assert [r for r in rows if not r.ok] == []
    disabled = reworded_manifest.dags[[d.dag_id for d in reworded_manifest.dags].index("initech_invoices_nightly")]
    assert (disabled.paused, disabled.owner, disabled.paused_reason) == (True, "airflow", "disabled")


def test_contracts_round_trip_through_dagster_metadata(example_project):
    defs = build_definitions(load_project(example_project / "configs/runner.yaml"))
    for trigger in [*defs.schedules, *defs.sensors]:
        contract = trigger_contract(trigger)
        assert isinstance(contract, TriggerContract) and contract.name == trigger.name
        assert TriggerContract.model_validate_json(contract.model_dump_json()) == contract
        with pytest.raises(Exception):  # frozen
            contract.enabled = False  # type: ignore[misc]
    orders = op_contract(defs.resolve_assets_def(next(iter(defs.resolve_job_def("acme__orders_job")
                                                           .asset_layer.executable_asset_keys))))
    assert isinstance(orders, OpContract)
    assert (orders.pool, orders.pool_slots, orders.retry.waits()) == ("dativo_tenant_acme", 1, [1.0, 3.0])
    assert orders.retry.retryable_exit_codes == (3,)
