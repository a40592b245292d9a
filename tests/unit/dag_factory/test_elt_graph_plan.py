"""ELT planning by sub-graph (issue 14): two sources joined on one connection are one pushed-down graph;
a branch, another connection or an incremental source beside another keeps the graph in ETL."""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.dag_factory.elt_plan import plan_elt
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec.models import Pipeline


def _graph(*, conn_b: str = "pg", extra_consumer: bool = False, incremental: bool = False) -> Pipeline:
    flights: dict[str, Any] = {"conn_id": "pg", "table": "flights"}
    if incremental:
        flights["incremental"] = {"column": "day", "mode": "data_interval"}
    nodes = [
        {"id": "a", "module": "source.postgres", "config": flights},
        {"id": "b", "module": "source.postgres", "config": {"conn_id": conn_b, "table": "airlines"}},
        {"id": "f", "module": "filter_rows", "config": {"condition": "x > 1"}},
        {"id": "j", "module": "join", "config": {"on": ["carrier"]}},
        {
            "id": "g",
            "module": "aggregate",
            "config": {"group_by": ["name"], "aggregations": [{"function": "count"}]},
        },
        {"id": "d", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "out"}},
    ]
    edges = [
        {"source": "a", "target": "f"},
        {"source": "f", "target": "j", "target_port": "left"},
        {"source": "b", "target": "j", "target_port": "right"},
        {"source": "j", "target": "g"},
        {"source": "g", "target": "d"},
    ]
    if extra_consumer:
        nodes.append({"id": "x", "module": "destination.file", "config": {"path": "/tmp/x.parquet"}})
        edges.append({"source": "j", "target": "x"})
    return Pipeline.model_validate(
        {
            "spec_version": 1,
            "id": "p",
            "schedule": "@daily",
            "start_date": "2024-01-01",
            "nodes": nodes,
            "edges": edges,
        }
    )


def _plan(pipeline: Pipeline) -> Any:
    modules = {node.id: registry()[node.module] for node in pipeline.nodes}
    return plan_elt(pipeline, modules)


def test_two_sources_joined_are_one_graph() -> None:
    [path] = _plan(_graph())
    assert not path.linear and path.destination == "d" and path.conn_id == "pg"
    assert set(path.nodes) == {"a", "b", "f", "j", "g", "d"}
    order = path.nodes
    assert order.index("a") < order.index("f") < order.index("j") < order.index("g") < order.index("d")
    assert order.index("b") < order.index("j")
    assert path.sources == ("a", "b") or path.sources == ("b", "a")
    assert dict(path.inputs)["j"] == (("f", "left"), ("b", "right"))
    assert path.transforms == ("f", "j", "g")


def test_what_keeps_a_graph_in_etl() -> None:
    assert _plan(_graph(conn_b="other")) == []
    assert _plan(_graph(extra_consumer=True)) == []  # the join also feeds a file: a branch
    assert _plan(_graph(incremental=True)) == []


def test_a_linear_path_stays_linear() -> None:
    pipeline = Pipeline.model_validate(
        {
            "spec_version": 1,
            "id": "p",
            "nodes": [
                {"id": "a", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}},
                {"id": "f", "module": "filter_rows", "config": {"condition": "x > 1"}},
                {"id": "d", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "out"}},
            ],
            "edges": [{"source": "a", "target": "f"}, {"source": "f", "target": "d"}],
        }
    )
    [path] = _plan(pipeline)
    assert (
        path.linear and path.nodes == ("a", "f", "d") and path.sources == ("a",) and path.transforms == ("f",)
    )


def test_where_each_node_runs_and_why_not_in_postgres() -> None:
    from airflow_provider_logidata.dag_factory.elt_plan import where_nodes_run

    def where(pipeline: Pipeline) -> dict[str, Any]:
        return where_nodes_run(pipeline, {node.id: registry()[node.module] for node in pipeline.nodes})

    assert {n: engine for n, (engine, _why) in where(_graph()).items()} == dict.fromkeys("abfjgd", "postgres")
    blocked = where(_graph(conn_b="other"))
    assert blocked["d"][0] == "engine" and "different connections" in (blocked["d"][1] or "")
    assert blocked["j"] == ("engine", None)
    branch = where(_graph(extra_consumer=True))
    assert branch["j"][0] == "engine" and "a branch" in (branch["j"][1] or "")
    assert where(_graph().model_copy(update={"engine": "etl"}))["j"] == ("engine", None)
