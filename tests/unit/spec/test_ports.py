"""Named inputs (joins) and several outputs (routes): validation and the inputs the factory wires."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry, split_input_ref
from airflow_provider_logidata.modules.transforms.filter_rows import FilterRowsConfig
from airflow_provider_logidata.spec import validate_pipeline

_FILTER_OP = "airflow_provider_logidata.operators.transforms.FilterRowsOperator"


@pytest.fixture
def registry() -> ModuleRegistry:
    from airflow_provider_logidata.modules import builtin

    reg = ModuleRegistry()
    builtin.register_all(reg)
    reg.register(
        ModuleDef(
            "test_join",
            "transform",
            "Join",
            "",
            FilterRowsConfig,
            _FILTER_OP,
            min_inputs=2,
            max_inputs=2,
            input_ports=("left", "right"),
        )
    )
    reg.register(
        ModuleDef(
            "test_route",
            "transform",
            "Route",
            "",
            FilterRowsConfig,
            _FILTER_OP,
            outputs=("matched", "unmatched"),
        )
    )
    return reg


def spec(edges: list[dict[str, Any]]) -> dict[str, Any]:
    cond = {"condition": "true"}
    return {
        "id": "ports",
        "nodes": [
            {"id": "a", "module": "source.file", "config": {"path": "/a.csv"}},
            {"id": "b", "module": "source.file", "config": {"path": "/b.csv"}},
            {"id": "split", "module": "test_route", "config": cond},
            {"id": "joined", "module": "test_join", "config": cond},
            {"id": "out", "module": "destination.file", "config": {"path": "/o.parquet"}},
        ],
        "edges": edges,
    }


GOOD_EDGES = [
    {"source": "a", "target": "split"},
    {"source": "b", "target": "joined", "target_port": "right"},
    {"source": "split", "source_port": "unmatched", "target": "joined", "target_port": "left"},
    {"source": "joined", "target": "out"},
]


def test_ports_valid_and_inputs_ordered_by_port(registry: ModuleRegistry) -> None:
    result = validate_pipeline(spec(GOOD_EDGES), registry=registry)
    assert result.ok, [str(i) for i in result.issues]
    assert result.pipeline is not None
    dag = build_dag(result.pipeline, registry=registry)
    # left first, whatever the edge order; a non-default output is named with ':port'.
    assert dag.get_task("joined").inputs == ["split:unmatched", "b"]
    assert dag.get_task("joined").upstream_task_ids == {"split", "b"}
    assert split_input_ref("split:unmatched") == ("split", "unmatched")
    assert split_input_ref("b") == ("b", None)


@pytest.mark.parametrize(
    ("edge_index", "change", "path", "message"),
    [
        (1, {"target_port": None}, "edges[1].target_port", "needs the input named on each edge"),
        (1, {"target_port": "middle"}, "edges[1].target_port", "has no input 'middle'"),
        (1, {"target_port": "left"}, "edges[2].target_port", "already connected"),
        (0, {"target_port": "left"}, "edges[0].target_port", "takes unnamed inputs"),
        (2, {"source_port": "maybe"}, "edges[2].source_port", "has no output 'maybe'"),
    ],
)
def test_port_errors(
    registry: ModuleRegistry, edge_index: int, change: dict[str, Any], path: str, message: str
) -> None:
    edges = [dict(e) for e in GOOD_EDGES]
    edges[edge_index].update(change)
    issues = validate_pipeline(spec(edges), registry=registry).issues
    assert any(i.path == path and message in i.message for i in issues), [str(i) for i in issues]
