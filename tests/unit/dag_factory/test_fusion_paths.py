"""``fuse: paths``: which linear source -> transforms -> destination paths run as one task, and the DAG,
the spec's ``fuse``/``fuse_chains`` pair and the canvas mapping that follow from it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_logidata.api.runs import NodeTask, plan_node_tasks
from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.dag_factory.fusion import fuse_mode, is_path, plan_groups
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec import Pipeline, validate_pipeline

CONFIGS: dict[str, dict[str, Any]] = {
    "source.file": {"path": "/data/in.csv"},
    "source.postgres": {"conn_id": "warehouse", "table": "orders"},
    "destination.file": {"path": "/data/out.parquet"},
    "destination.postgres": {"conn_id": "warehouse", "table": "orders_clean"},
    "filter_rows": {"condition": "a > 1"},
    "deduplicate": {},
    "clean_text": {},
    "sql": {"query": "SELECT * FROM input_0"},
    "route": {"condition": "a > 1"},
    "join": {"on": ["a"]},
}


def spec(
    nodes: list[tuple[str, str]], edges: list[tuple[str, ...]], fuse: str = "paths", **extra: Any
) -> dict[str, Any]:
    def edge(item: tuple[str, ...]) -> dict[str, str]:
        out = {"source": item[0], "target": item[1]}
        if len(item) > 2:
            out["source_port" if item[2] in ("matched", "unmatched") else "target_port"] = item[2]
        return out

    return {
        "id": "paths",
        "fuse": fuse,
        "engine": "etl",
        "nodes": [{"id": i, "module": m, "config": CONFIGS[m]} for i, m in nodes],
        "edges": [edge(e) for e in edges],
        **extra,
    }


def make(*args: Any, **kwargs: Any) -> Pipeline:
    result = validate_pipeline(spec(*args, **kwargs))
    assert result.ok and result.pipeline is not None, [str(i) for i in result.issues]
    return result.pipeline


def groups(pipeline: Pipeline) -> list[list[str]]:
    modules = {n.id: registry()[n.module] for n in pipeline.nodes}
    return plan_groups(pipeline, modules, fuse=pipeline.fusion)


def line(*pairs: tuple[str, str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    nodes = list(pairs)
    return nodes, [(a[0], b[0]) for a, b in itertools.pairwise(nodes)]


LINEAR = line(
    ("src", "source.file"),
    ("f", "filter_rows"),
    ("d", "deduplicate"),
    ("c", "clean_text"),
    ("dst", "destination.postgres"),
)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        (LINEAR, [["src", "f", "d", "c", "dst"]]),
        (line(("src", "source.file"), ("dst", "destination.file")), [["src", "dst"]]),
        (
            line(("src", "source.file"), ("c", "clean_text"), ("dst", "destination.file")),
            [["src", "c", "dst"]],
        ),
        # not a file source: the chain fuses, the source and destination stay tasks of their own
        (
            line(("src", "source.postgres"), ("c", "clean_text"), ("dst", "destination.postgres")),
            [["src"], ["c"], ["dst"]],
        ),
        # a node that cannot run in a chain (sql) splits the path; what is left fuses as chains only
        (
            line(
                ("src", "source.file"),
                ("c", "clean_text"),
                ("q", "sql"),
                ("f", "filter_rows"),
                ("dst", "destination.file"),
            ),
            [["src"], ["c"], ["q"], ["f"], ["dst"]],
        ),
    ],
    ids=["linear", "source-to-destination", "one-step", "postgres-source", "sql-node"],
)
def test_which_linear_paths_fuse(graph: Any, expected: list[list[str]]) -> None:
    pipeline = make(*graph, engine="etl")
    assert groups(pipeline) == expected
    chains = pipeline.model_copy(update={"fuse": "chains"})
    assert all(not is_path(g, {n.id: registry()[n.module] for n in pipeline.nodes}) for g in groups(chains))


def test_fork_does_not_fuse() -> None:
    """The source feeds two destinations: every node stays a task (the source's rows are staged once)."""
    nodes = [
        ("src", "source.file"),
        ("c", "clean_text"),
        ("dst", "destination.file"),
        ("dst2", "destination.postgres"),
    ]
    assert groups(make(nodes, [("src", "c"), ("c", "dst"), ("src", "dst2")])) == [
        ["src"],
        ["c"],
        ["dst"],
        ["dst2"],
    ]
    # a fork after the chain: the chain fuses as a chain, nothing fuses with the source or destinations
    nodes = [*nodes, ("f", "filter_rows")]
    edges = [("src", "c"), ("c", "f"), ("f", "dst"), ("f", "dst2")]
    assert groups(make(nodes, edges)) == [["src"], ["c", "f"], ["dst"], ["dst2"]]


def test_join_does_not_fuse() -> None:
    nodes = [
        ("a", "source.file"),
        ("b", "source.file"),
        ("j", "join"),
        ("dst", "destination.file"),
    ]
    edges = [("a", "j", "left"), ("b", "j", "right"), ("j", "dst")]
    assert groups(make(nodes, edges)) == [["a"], ["b"], ["j"], ["dst"]]


def test_route_does_not_fuse() -> None:
    nodes = [
        ("src", "source.file"),
        ("r", "route"),
        ("dst", "destination.file"),
        ("dst2", "destination.postgres"),
    ]
    edges = [("src", "r"), ("r", "dst", "matched"), ("r", "dst2", "unmatched")]
    assert groups(make(nodes, edges)) == [["src"], ["r"], ["dst"], ["dst2"]]


def test_path_next_to_other_tasks() -> None:
    """Two independent pipelines in one document: the fusable one is one task, the other is not."""
    nodes = [
        ("src", "source.file"),
        ("c", "clean_text"),
        ("dst", "destination.file"),
        ("pg", "source.postgres"),
        ("pgdst", "destination.postgres"),
    ]
    edges = [("src", "c"), ("c", "dst"), ("pg", "pgdst")]
    assert groups(make(nodes, edges)) == [["src", "c", "dst"], ["pg"], ["pgdst"]]


def test_dag_has_one_task_for_the_path() -> None:
    pipeline = make(*LINEAR)
    dag = build_dag(pipeline)
    assert dag.task_ids == ["dst"]
    task = dag.get_task("dst")
    assert type(task).__name__ == "FusedPathOperator"
    assert task.config["source"]["node_id"] == "src"
    assert [s["node_id"] for s in task.config["steps"]] == ["f", "d", "c"]
    assert task.config["destination"]["config"]["table"] == "orders_clean"
    assert task.input_task_ids() == []
    assert [a.uri for a in task.inlets] == ["file:///data/in.csv"]
    assert "Fused paths" in dag.doc_md and "`src` → `f` → `d` → `c` → `dst`" in dag.doc_md


def test_file_destination_declares_its_outlet() -> None:
    dag = build_dag(make(*line(("src", "source.file"), ("dst", "destination.file"))))
    task = dag.get_task("dst")
    assert [a.uri for a in task.outlets] == ["file:///data/out.parquet"]


def test_unfused_and_chains_keep_their_shape() -> None:
    assert len(build_dag(make(*LINEAR, fuse="none")).task_ids) == 5
    assert sorted(build_dag(make(*LINEAR, fuse="chains")).task_ids) == ["c", "dst", "src"]


def test_path_config_refuses_other_modules() -> None:
    from airflow_provider_logidata.operators.path import FusedPathConfig

    src = {"node_id": "s", "module": "source.file", "config": {"path": "/data/in.csv"}}
    dst = {"node_id": "d", "module": "destination.file", "config": {"path": "/data/out.csv"}}
    with pytest.raises(ValueError, match=r"starts at source\.file"):
        FusedPathConfig.model_validate({"source": {**src, "module": "source.postgres"}, "destination": dst})
    with pytest.raises(ValueError, match="cannot run in a path"):
        FusedPathConfig.model_validate(
            {"source": src, "steps": [{"node_id": "q", "module": "sql", "config": {}}], "destination": dst}
        )
    with pytest.raises(ValueError, match="ends at"):
        FusedPathConfig.model_validate({"source": src, "destination": {**dst, "module": "clean_text"}})


@pytest.mark.parametrize(
    ("given", "fuse", "fuse_chains"),
    [
        ({}, "none", False),
        ({"fuse_chains": True}, "chains", True),
        ({"fuse_chains": False}, "none", False),
        ({"fuse": "paths"}, "paths", True),
        ({"fuse": "chains", "fuse_chains": False}, "chains", True),  # fuse wins
        ({"fuse": "none", "fuse_chains": True}, "none", False),
    ],
)
def test_fuse_and_fuse_chains_agree(given: dict[str, Any], fuse: str, fuse_chains: bool) -> None:
    pipeline = Pipeline.model_validate({"id": "p", **given})
    assert (pipeline.fuse, pipeline.fuse_chains, pipeline.fusion) == (fuse, fuse_chains, fuse)
    # documents stored by this version read back the same
    again = Pipeline.model_validate(pipeline.model_dump(mode="json"))
    assert (again.fuse, again.fuse_chains) == (fuse, fuse_chains)


def test_fuse_is_in_the_json_schema() -> None:
    from airflow_provider_logidata.spec.schema import pipeline_json_schema

    properties = pipeline_json_schema()["properties"]
    assert properties["fuse"]["enum"] == ["none", "chains", "paths"]
    assert properties["fuse"]["default"] == "none"
    assert "fuse_chains" in properties


def test_fuse_mode() -> None:
    assert [fuse_mode(v) for v in (True, False, "paths")] == ["chains", "none", "paths"]
    with pytest.raises(ValueError, match="none, chains or paths"):
        fuse_mode("all")


def test_canvas_maps_every_node_of_a_path_to_its_task() -> None:
    mapping = plan_node_tasks(spec(*LINEAR))
    assert mapping == {n: NodeTask("dst", "etl", 5) for n in ("src", "f", "d", "c", "dst")}
