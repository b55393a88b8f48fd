"""Asset jobs resolved from their own assets (dativo_defs/asset_jobs.py): the same jobs, the same UI snapshot,
and resolution that never looks at another job's assets."""

from __future__ import annotations

import warnings

from dagster import (
    AssetCheckResult,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
    multi_asset,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.record import as_dict
from dagster_shared.serdes import serialize_value

from dativo_defs.asset_jobs import JobAssetJob, define_job_asset_job, job_subgraph
from dativo_defs.config.loader import load_project
from dativo_defs.definitions import build_definitions
from tests.engine.helpers import read_iceberg


def _stock(job: UnresolvedAssetJobDefinition) -> UnresolvedAssetJobDefinition:
    """The same job as Dagster's own define_asset_job builds it (resolved against the whole asset graph)."""
    return UnresolvedAssetJobDefinition(**as_dict(job))


def _stock_definitions(defs: Definitions) -> Definitions:
    jobs = {job.name: _stock(job) for job in defs.jobs or []}
    with warnings.catch_warnings():  # re-targeting a sensor re-passes its (beta) owners argument
        warnings.simplefilter("ignore")
        return Definitions(assets=defs.assets, jobs=list(jobs.values()),
                           schedules=[s.with_updated_job(jobs[s.job_name]) for s in defs.schedules or []],
                           sensors=[s.with_updated_job(jobs[s.job_name]) for s in defs.sensors or []])


def test_the_location_snapshot_is_the_one_stock_asset_jobs_give(example_project):
    """What the UI loads (the repository snapshot: assets, groups, jobs, schedules, sensors) is byte-identical."""
    defs = build_definitions(load_project(example_project / "configs/runner.yaml"))
    assert defs.jobs and all(isinstance(job, JobAssetJob) for job in defs.jobs)
    ours = RepositorySnap.from_def(defs.get_repository_def())
    stock = RepositorySnap.from_def(_stock_definitions(defs).get_repository_def())
    assert len(ours.job_datas or []) == 8 and len(ours.asset_nodes) == 8 and len(ours.schedules) == 4
    assert serialize_value(ours) == serialize_value(stock)


def test_a_job_with_an_upstream_asset_and_a_check_resolves_like_the_stock_job():
    """The general case (dativo's jobs have neither today): a dependency becomes the same unexecutable asset, a
    check on a selected key comes along, an unselected output of a subsettable multi-asset stays unselected, and
    the other assets (and their checks) are never looked at."""

    @asset(key=["up"])
    def up():
        return 1

    @multi_asset(specs=[AssetSpec(["a"], deps=[["up"]]), AssetSpec(["b"], deps=[["up"]])], can_subset=True)
    def ab(context):
        for key in context.selected_asset_keys:
            yield MaterializeResult(asset_key=key)

    @asset_check(asset=AssetKey(["a"]))
    def a_is_fine():
        return AssetCheckResult(passed=True)

    others = [asset(key=[f"other_{i}"])(lambda: 1) for i in range(20)]

    @asset_check(asset=AssetKey(["other_0"]))
    def other_is_fine():
        return AssetCheckResult(passed=True)

    job = define_job_asset_job("a_job", [AssetKey(["a"])], {"t": "1"}, "one output")
    defs = Definitions(assets=[up, ab, *others], asset_checks=[a_is_fine, other_is_fine], jobs=[job])
    graph = defs.resolve_asset_graph()
    subgraph = job_subgraph(graph, job.selection)
    assert {node.key for node in subgraph.asset_nodes} == {AssetKey(["up"]), AssetKey(["a"]), AssetKey(["b"])}
    assert subgraph.asset_check_keys == {a_is_fine.check_key}
    ours = defs.resolve_job_def("a_job")
    stock = _stock(job).resolve(asset_graph=graph)
    assert ours.get_job_snapshot_id() == stock.get_job_snapshot_id()
    assert ours.asset_layer.executable_asset_keys == stock.asset_layer.executable_asset_keys == {AssetKey(["a"])}
    ours_graph, stock_graph = ours.asset_layer.asset_graph, stock.asset_layer.asset_graph
    assert ours_graph.get_all_asset_keys() == stock_graph.get_all_asset_keys()
    assert ours_graph.asset_check_keys == stock_graph.asset_check_keys == {a_is_fine.check_key}
    result = ours.execute_in_process()
    assert result.success and [e.asset_key for e in result.get_asset_materialization_events()] == [AssetKey(["a"])]
    assert [e.check_name for e in result.get_asset_check_evaluations()] == ["a_is_fine"]


def test_a_location_job_runs_in_process_and_lands_its_rows(example_project, dativo_home):
    defs = build_definitions(load_project(example_project / "configs/runner.yaml"))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("acme__orders_job").execute_in_process(instance=instance)
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == AssetKey(["acme", "orders", "orders"])
    landed = read_iceberg(dativo_home, "acme.orders")
    assert sorted(landed.column("order_id").to_pylist()) == list(range(1, 301))
