"""Fused chains: which nodes share a task, and that the DAG stays correctly wired."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.dag_factory.fusion import plan_groups
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec import Pipeline, validate_pipeline


def node(node_id: str, module: str) -> dict[str, Any]:
    configs = {
        "source.file": {"path": "/in.csv"},
        "destination.file": {"path": "/out.parquet"},
        "filter_rows": {"condition": "a > 1"},
        "deduplicate": {},
        "clean_text": {},
    }
    return {"id": node_id, "module": module, "config": configs[module]}


def make(nodes: list[tuple[str, str]], edges: list[tuple[str, str]], fuse: bool = True) -> Pipeline:
    spec = {
        "id": "fused",
        "fuse_chains": fuse,
        "nodes": [node(i, m) for i, m in nodes],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }
    result = validate_pipeline(spec)
    assert result.ok and result.pipeline is not None, [str(i) for i in result.issues]
    return result.pipeline


LINEAR = (
    [
        ("src", "source.file"),
        ("f", "filter_rows"),
        ("d", "deduplicate"),
        ("c", "clean_text"),
        ("dst", "destination.file"),
    ],
    [("src", "f"), ("f", "d"), ("d", "c"), ("c", "dst")],
)
BRANCHED = (
    [
        ("src", "source.file"),
        ("f", "filter_rows"),
        ("d", "deduplicate"),
        ("c", "clean_text"),
        ("c2", "clean_text"),
        ("dst", "destination.file"),
        ("dst2", "destination.file"),
    ],
    # f feeds two branches, so it ends its run; d -> c fuses; c2 stands alone.
    [("src", "f"), ("f", "d"), ("f", "c2"), ("d", "c"), ("c", "dst"), ("c2", "dst2")],
)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        (LINEAR, [["src"], ["f", "d", "c"], ["dst"]]),
        (BRANCHED, [["src"], ["f"], ["d", "c"], ["c2"], ["dst"], ["dst2"]]),
    ],
    ids=["linear", "branched"],
)
def test_plan_groups(graph: Any, expected: list[list[str]]) -> None:
    pipeline = make(*graph)
    modules = {n.id: registry()[n.module] for n in pipeline.nodes}
    assert plan_groups(pipeline, modules, fuse=True) == expected
    assert plan_groups(pipeline, modules, fuse=False) == [[n.id] for n in pipeline.nodes]


def test_fused_dag_shape() -> None:
    dag = build_dag(make(*BRANCHED))
    assert sorted(dag.task_ids) == ["c", "c2", "dst", "dst2", "f", "src"]
    chain = dag.get_task("c")
    assert type(chain).__name__ == "FusedChainOperator"
    assert [s["node_id"] for s in chain.config["steps"]] == ["d", "c"]
    assert chain.inputs == ["f"]
    assert chain.upstream_task_ids == {"f"}
    assert dag.get_task("dst").upstream_task_ids == {"c"}
    assert dag.get_task("f").downstream_task_ids == {"c", "c2"}


def test_unfused_is_default() -> None:
    pipeline = make(*LINEAR, fuse=False)
    assert len(build_dag(pipeline).task_ids) == 5


def test_chain_config_rejects_unfusable_steps() -> None:
    from airflow_provider_logidata.operators.chain import FusedChainConfig

    with pytest.raises(ValueError, match="cannot run in a chain"):
        FusedChainConfig.model_validate({"steps": [{"node_id": "x", "module": "source.file", "config": {}}]})
    with pytest.raises(ValueError, match="keep"):
        FusedChainConfig.model_validate(
            {"steps": [{"node_id": "x", "module": "deduplicate", "config": {"keep": "middle"}}]}
        )
