"""Which outputs' row order nothing downstream can observe (``dag_factory.row_order``), and the factory
letting exactly those sources stage rows in any order."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.dag_factory.row_order import order_free_nodes
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec import Pipeline, validate_pipeline

CONFIGS: dict[str, dict[str, Any]] = {
    "source.file": {"path": "/in.csv"},
    "destination.file": {"path": "/out.parquet"},
    "filter_rows": {"condition": "a > 1"},
    "dedupe_all": {},
    "dedupe_keys": {"columns": ["a"]},
    "clean_text": {},
    "aggregate": {"group_by": ["a"], "aggregations": [{"function": "count", "as": "n"}]},
    "sort": {"by": [{"column": "a"}]},
}
MODULE = {"dedupe_all": "deduplicate", "dedupe_keys": "deduplicate"}


def make(nodes: list[tuple[str, str]], edges: list[tuple[str, str]]) -> Pipeline:
    spec = {
        "id": "order",
        "nodes": [{"id": i, "module": MODULE.get(kind, kind), "config": CONFIGS[kind]} for i, kind in nodes],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }
    result = validate_pipeline(spec)
    assert result.ok and result.pipeline is not None, [str(i) for i in result.issues]
    return result.pipeline


def free(pipeline: Pipeline) -> set[str]:
    return order_free_nodes(pipeline, {n.id: registry()[n.module] for n in pipeline.nodes})


SRC, DST = ("src", "source.file"), ("dst", "destination.file")


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        # A DISTINCT straight after the source: its order cannot matter.
        ([SRC, ("d", "dedupe_all"), DST], [("src", "d"), ("d", "dst")], {"src"}),
        # Row-by-row steps before the DISTINCT pass the question on.
        (
            [SRC, ("f", "filter_rows"), ("c", "clean_text"), ("d", "dedupe_all"), DST],
            [("src", "f"), ("f", "c"), ("c", "d"), ("d", "dst")],
            {"src", "f", "c"},
        ),
        # A GROUP BY discards order too.
        ([SRC, ("g", "aggregate"), DST], [("src", "g"), ("g", "dst")], {"src"}),
        # Keep first/last per key is defined by input order.
        ([SRC, ("d", "dedupe_keys"), DST], [("src", "d"), ("d", "dst")], set()),
        # A file destination keeps the rows in order; so does anything not declared safe (sort: ties).
        ([SRC, ("c", "clean_text"), DST], [("src", "c"), ("c", "dst")], set()),
        ([SRC, ("s", "sort"), DST], [("src", "s"), ("s", "dst")], set()),
        # One consumer that needs order is enough.
        (
            [SRC, ("d", "dedupe_all"), DST, ("dst2", "destination.file")],
            [("src", "d"), ("d", "dst"), ("src", "dst2")],
            set(),
        ),
        # Nothing reads it: nothing proves the order free.
        ([SRC, ("c", "clean_text")], [("src", "c")], set()),
    ],
    ids=[
        "distinct",
        "row-wise-then-distinct",
        "aggregate",
        "dedupe-on-keys",
        "to-destination",
        "sort",
        "one-consumer-needs-it",
        "dangling",
    ],
)
def test_order_free_nodes(
    nodes: list[tuple[str, str]], edges: list[tuple[str, str]], expected: set[str]
) -> None:
    assert free(make(nodes, edges)) == expected


@pytest.mark.parametrize("fuse", [False, True])
def test_factory_lets_only_order_free_sources_stage_in_any_order(fuse: bool) -> None:
    pipeline = make(
        [SRC, ("d", "dedupe_all"), DST, ("src2", "source.file"), ("dst2", "destination.file")],
        [("src", "d"), ("d", "dst"), ("src2", "dst2")],
    )
    pipeline = pipeline.model_copy(update={"fuse_chains": fuse})
    dag = build_dag(pipeline)
    assert dag.get_task("src").keep_row_order is False
    assert dag.get_task("src2").keep_row_order is True
