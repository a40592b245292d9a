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
    """The destination's graph is not pushed down; the largest part that can be still is (an exit)."""
    [other] = _plan(_graph(conn_b="other"))  # the other connection's source is read by the engine
    assert other.exit and other.linear and other.nodes == ("a", "f") and other.transforms == ("f",)
    [branch] = _plan(_graph(extra_consumer=True))  # the join also feeds a file: a branch
    assert branch.exit and branch.destination == "j" and set(branch.nodes) == {"a", "b", "f", "j"}
    assert branch.sources in (("a", "b"), ("b", "a")) and branch.transforms == ("f", "j")
    # a data-interval source beside another: only its own read and filter are pushed (the staged result
    # carries the interval to the destination, as the ETL source's would)
    [interval] = _plan(_graph(incremental=True))
    assert interval.exit and interval.nodes == ("a", "f")


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
    assert blocked["a"] == blocked["f"] == ("postgres", None)  # the filter is pushed into the read
    branch = where(_graph(extra_consumer=True))
    assert branch["j"] == ("postgres", None)  # the join runs in PostgreSQL, its result feeds both
    assert branch["d"][0] == "engine" and "a branch" in (branch["d"][1] or "")
    assert branch["g"] == ("engine", None)
    assert where(_graph().model_copy(update={"engine": "etl"}))["j"] == ("engine", None)


def _pipeline(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> Pipeline:
    return Pipeline.model_validate(
        {
            "spec_version": 1,
            "id": "p",
            "nodes": nodes,
            "edges": [{"source": a, "target": b} for a, b in edges],
        }
    )


PG = {"id": "a", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}}
FILTER = {"id": "f", "module": "filter_rows", "config": {"condition": "x > 1"}}
SORT = {"id": "s", "module": "sort", "config": {"by": [{"column": "x"}]}}
FILE = {"id": "out", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}}
PYTHON = {"id": "py", "module": "python", "config": {"callable": "pkg.mod:fix"}}


def test_partial_pushdown_ends_at_the_last_node_postgres_can_run() -> None:
    [path] = _plan(_pipeline([PG, FILTER, SORT, FILE], [("a", "f"), ("f", "s"), ("s", "out")]))
    assert path.exit and path.nodes == ("a", "f", "s") and path.destination == "s"
    assert path.transforms == ("f", "s") and path.sources == ("a",)


def test_a_branch_after_the_prefix_makes_its_last_node_the_exit() -> None:
    other = {**FILE, "id": "out2", "config": {"path": "/tmp/out2.csv"}}
    nodes = [PG, FILTER, SORT, FILE, other]
    [path] = _plan(_pipeline(nodes, [("a", "f"), ("f", "s"), ("s", "out"), ("s", "out2")]))
    assert path.exit and path.nodes == ("a", "f", "s")
    # a branch in the middle: the prefix ends where it forks
    [early] = _plan(_pipeline(nodes, [("a", "f"), ("f", "s"), ("s", "out"), ("f", "out2")]))
    assert early.exit and early.nodes == ("a", "f")


def test_no_pushdown_without_a_transform_or_under_engine_etl() -> None:
    assert _plan(_pipeline([PG, FILE], [("a", "out")])) == []  # a plain read is the source's own task
    etl = _pipeline([PG, FILTER, FILE], [("a", "f"), ("f", "out")]).model_copy(update={"engine": "etl"})
    assert _plan(etl) == []


def test_a_node_postgres_cannot_run_ends_the_prefix_before_it() -> None:
    nodes = [PG, FILTER, PYTHON, SORT, FILE]
    [path] = _plan(_pipeline(nodes, [("a", "f"), ("f", "py"), ("py", "s"), ("s", "out")]))
    assert path.exit and path.nodes == ("a", "f")
