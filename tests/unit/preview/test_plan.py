"""Preview planning: the upstream sub-graph, validation of just those nodes, the cache key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_logidata.preview.plan import InvalidUpstream, UnknownNode, plan_preview


def pipeline(**extra: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": "orders",
        "name": "Orders",
        "nodes": [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": "/d/in.csv"},
                "position": {"x": 0, "y": 0},
            },
            {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 0"}},
            {"id": "dedupe", "module": "deduplicate", "config": {}},
            {"id": "other", "module": "source.file", "config": {"path": "/d/other.csv"}},
            {"id": "join", "module": "join", "config": {"on": ["id"], "how": "left"}},
            {"id": "write", "module": "destination.file", "config": {"path": "/d/out.parquet"}},
        ],
        "edges": [
            {"source": "read", "target": "keep"},
            {"source": "keep", "target": "dedupe"},
            {"source": "dedupe", "target": "join", "target_port": "left"},
            {"source": "other", "target": "join", "target_port": "right"},
            {"source": "join", "target": "write"},
        ],
        **extra,
    }


def test_only_upstream_nodes_are_planned_in_order() -> None:
    plan = plan_preview(pipeline(), "dedupe")
    assert [node.id for node in plan.nodes] == ["read", "keep", "dedupe"]
    assert plan.target.id == "dedupe"
    assert plan.target.inputs[0].source == "keep"
    assert plan.nodes[0].config["format"] == "auto"  # validated: defaults filled in


def test_named_inputs_are_ordered_by_port() -> None:
    data = pipeline()
    data["edges"][2], data["edges"][3] = data["edges"][3], data["edges"][2]
    plan = plan_preview(data, "join")
    assert {node.id for node in plan.nodes} == {"read", "keep", "dedupe", "other", "join"}
    assert [(i.source, i.target_port) for i in plan.target.inputs] == [("dedupe", "left"), ("other", "right")]


def test_unknown_node_is_404() -> None:
    with pytest.raises(UnknownNode) as caught:
        plan_preview(pipeline(), "nope")
    assert caught.value.status == 404 and "'nope'" in caught.value.detail and "read" in caught.value.detail


def test_half_configured_node_is_422_naming_it() -> None:
    data = pipeline()
    data["nodes"][1]["config"] = {}
    with pytest.raises(InvalidUpstream) as caught:
        plan_preview(data, "dedupe")
    error = caught.value
    assert error.status == 422 and "'keep'" in error.detail
    assert error.errors == [
        {
            "path": "nodes[1].config.condition",
            "message": "required field is missing",
            "node_id": "keep",
            "field": "condition",
        }
    ]


def test_problems_elsewhere_do_not_block_the_preview() -> None:
    data = pipeline()
    data["nodes"][5]["config"] = {}  # the destination, downstream of the previewed node
    data["nodes"].append({"id": "loose", "module": "filter_rows", "config": {}})
    data["name"] = ""
    assert plan_preview(data, "keep").target.id == "keep"


def test_a_lone_source_is_previewable() -> None:
    data = {"spec_version": 1, "id": "p", "nodes": [pipeline()["nodes"][0]], "edges": []}
    assert plan_preview(data, "read").target.module == "source.file"


def test_missing_input_is_reported() -> None:
    data = pipeline()
    data["edges"] = [e for e in data["edges"] if e["target"] != "keep"]
    with pytest.raises(InvalidUpstream) as caught:
        plan_preview(data, "dedupe")
    assert caught.value.errors[0]["node_id"] == "keep"
    assert "input" in caught.value.errors[0]["message"]


def test_unknown_module_upstream_is_reported() -> None:
    data = pipeline()
    data["nodes"][0]["module"] = "source.nowhere"
    with pytest.raises(InvalidUpstream) as caught:
        plan_preview(data, "keep")
    assert caught.value.errors[0]["path"] == "nodes[0].module"


def test_key_ignores_layout_and_downstream_but_not_upstream_config() -> None:
    base = plan_preview(pipeline(), "dedupe").key
    moved = pipeline()
    moved["nodes"][0]["position"] = {"x": 500, "y": 90}
    moved["nodes"][0]["label"] = "Orders file"
    moved["nodes"][5]["config"] = {"path": "/elsewhere.parquet"}
    assert plan_preview(moved, "dedupe").key == base
    changed = copy.deepcopy(pipeline())
    changed["nodes"][1]["config"]["condition"] = "amount > 1"
    assert plan_preview(changed, "dedupe").key != base
    assert plan_preview(pipeline(), "dedupe", limit=50).key != base
    assert plan_preview(pipeline(), "dedupe", sampling="random", seed=1).key != base
    assert (
        plan_preview(pipeline(), "dedupe", sampling="random", seed=2).key
        != plan_preview(pipeline(), "dedupe", sampling="random", seed=1).key
    )


def test_elt_path_is_marked() -> None:
    data = {
        "spec_version": 1,
        "id": "pg",
        "name": "pg",
        "engine": "auto",
        "nodes": [
            {"id": "src", "module": "source.postgres", "config": {"conn_id": "db", "table": "orders"}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 0"}},
            {"id": "dst", "module": "destination.postgres", "config": {"conn_id": "db", "table": "out"}},
        ],
        "edges": [{"source": "src", "target": "keep"}, {"source": "keep", "target": "dst"}],
    }
    plan = plan_preview(data, "keep")
    assert plan.elt_path == ("src", "keep") and plan.elt_conn_id == "db"
    assert plan_preview({**data, "engine": "etl"}, "keep").elt_path is None
    assert plan_preview(data, "dst").elt_path == ("src", "keep")
