"""Asset jobs that resolve in time proportional to their own assets, not to the whole code location.

Dagster resolves every `define_asset_job` against the location's whole asset graph: `get_asset_graph_for_job`
walks all AssetsDefinitions twice per job (asset_job.py `_subset_assets_defs`), so N jobs of one asset each cost
O(N²) — 99 s at 5,000 jobs. A dativo asset job selects exactly the keys of one job file's multi-asset. Its
resolution needs only those assets and the ones they read from (which Dagster adds as unexecutable
dependencies), so `JobAssetJob.resolve` looks them up by key in the full graph and hands Dagster a graph of
just those: the same job, in O(its own assets). Resolution stays lazy (Dagster resolves a job on first use).

Upstream: dagster-io/dagster#10236 ("Poor performance when creating many small jobs", open), whose suggested
remedy is this one — not passing every asset of the repository into each job's build. `JobAssetJob` overrides
one method of a Dagster-internal class (pinned in constraints.txt); tests/dagster/test_asset_jobs.py checks, on
every upgrade, that the location's repository snapshot (what the UI shows) is byte-identical to stock jobs'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import AssetKey, AssetSelection, ExecutorDefinition, JobDefinition, ResourceDefinition, define_asset_job
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster_shared.record import as_dict


class JobAssetJob(UnresolvedAssetJobDefinition):
    """An UnresolvedAssetJobDefinition whose resolution reads only its own part of the asset graph."""

    __slots__ = ()

    def resolve(self, asset_graph: AssetGraph, default_executor_def: ExecutorDefinition | None = None,
                resource_defs: Mapping[str, ResourceDefinition] | None = None) -> JobDefinition:
        return super().resolve(job_subgraph(asset_graph, self.selection), default_executor_def, resource_defs)


def job_subgraph(asset_graph: AssetGraph, selection: AssetSelection) -> AssetGraph:
    """What `get_asset_graph_for_job` looks at for a key selection: the selected keys' AssetsDefinitions (with
    their other outputs), the checks on those keys, and the assets they read from. Found by key: O(selection)."""
    selected = selection.resolve(asset_graph)
    executable = {asset_graph.assets_def_for_key(key) for key in selected}
    executable |= {asset_graph.assets_def_for_key(check) for key in selected for check in asset_graph.get(key).check_keys}
    upstream = {asset_graph.assets_def_for_key(dep) for assets_def in executable
                for dep in assets_def.node_keys_by_input_name.values() if asset_graph.has(dep)}
    return AssetGraph.from_assets(list(executable | upstream))


def define_job_asset_job(name: str, keys: Sequence[AssetKey], tags: Mapping[str, str],
                         description: str) -> UnresolvedAssetJobDefinition:
    """`define_asset_job(name, selection=keys, ...)`, resolved in O(len(keys))."""
    job = define_asset_job(name, selection=list(keys), tags=tags, description=description)
    return JobAssetJob(**as_dict(job))
