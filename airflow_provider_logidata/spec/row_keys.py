"""The keys a pipeline gives a quality check's rows, for failure examples that name rows by key values.

A failing row named by its position in the input ("rows 17, 4021") points nowhere once the run is over: the
same row has another position in a rerun and none at all in the source system. Where the pipeline already
says what identifies a row, the examples use it (``order_id=1042``): a ``quality_check`` without its own
``keys`` takes

1. the ``keys`` of a ``destination.postgres`` merge it feeds (the keys of the target table), else
2. the ``columns`` of a ``deduplicate`` that feeds it (the keys the rows were made unique on),

but only when every node between the two is row-wise and keeps those columns as they are (by
``spec.incremental.column_change``): then the columns exist, unchanged, in the check's input, so the
inferred keys cannot break a run. Otherwise the check names rows by position, as before.

Pure: parsed nodes and edges plus validated configs in, ``{node id: keys}`` out. Used by the DAG factory and
the preview, so a run and a preview name the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.spec.incremental import Graph, column_change, row_wise

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

QUALITY_CHECK = "quality_check"
MERGE_DESTINATION = "destination.postgres"
DEDUPLICATE = "deduplicate"


def example_keys(
    nodes: Iterable[tuple[int, Any]], edges: Iterable[tuple[int, Any]], configs: Mapping[str, Any]
) -> dict[str, list[str]]:
    """For each quality check without ``keys``: the pipeline's keys for its rows (absent: none apply)."""
    graph = Graph(nodes, edges, configs)
    found: dict[str, list[str]] = {}
    for node_id in graph.order:
        if graph.module[node_id] != QUALITY_CHECK or graph.cfg(node_id).get("keys"):
            continue
        keys = _merge_keys(graph, node_id) or _deduplicate_keys(graph, node_id)
        if keys:
            found[node_id] = keys
    return found


def _kept(graph: Graph, start: str, end: str, keys: list[str]) -> bool:
    """Whether every node between ``start`` and ``end`` is row-wise and keeps ``keys`` as they are."""
    for node_id in graph.between(start, end):
        module = graph.module[node_id]
        if not row_wise(module):
            return False
        config = graph.cfg(node_id)
        if any(column_change(module, config, key) for key in keys):
            return False
    return True


def _merge_keys(graph: Graph, check: str) -> list[str] | None:
    below = graph.downstream(check)
    for node_id in graph.order:
        if node_id not in below or graph.module[node_id] != MERGE_DESTINATION:
            continue
        config = graph.cfg(node_id)
        keys = config.get("keys")
        if config.get("mode") == "merge" and keys and _kept(graph, check, node_id, list(keys)):
            return list(keys)
    return None


def _deduplicate_keys(graph: Graph, check: str) -> list[str] | None:
    above = graph.upstream(check)
    for node_id in reversed(graph.order):  # the nearest first, in pipeline order
        if node_id not in above or graph.module[node_id] != DEDUPLICATE:
            continue
        keys = graph.cfg(node_id).get("columns")
        if keys and _kept(graph, node_id, check, list(keys)):
            return list(keys)
    return None
