"""The ELT planner: which postgres -> transforms -> postgres paths run inside the database."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_logidata.dag_factory.elt_plan import EltPlanError, plan_elt
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec.models import Pipeline


def pipeline(
    transforms: list[tuple[str, str, dict[str, Any]]],
    *,
    engine: str = "auto",
    source_conn: str = "pg",
    dest_conn: str = "pg",
    source_extra: dict[str, Any] | None = None,
    extra_edges: list[dict[str, str]] | None = None,
    extra_nodes: list[dict[str, Any]] | None = None,
) -> Pipeline:
    nodes = [
        {
            "id": "src",
            "module": "source.postgres",
            "config": {"conn_id": source_conn, "table": "t", **(source_extra or {})},
        }
    ]
    nodes += [{"id": i, "module": m, "config": c} for i, m, c in transforms]
    nodes.append(
        {"id": "dst", "module": "destination.postgres", "config": {"conn_id": dest_conn, "table": "o"}}
    )
    nodes += extra_nodes or []
    ids = [n["id"] for n in nodes if n["id"] not in {x["id"] for x in extra_nodes or []}]
    edges = [{"source": a, "target": b} for a, b in itertools.pairwise(ids)] + (extra_edges or [])
    return Pipeline.model_validate({"id": "p", "engine": engine, "nodes": nodes, "edges": edges})


def plan(p: Pipeline) -> list[tuple[str, ...]]:
    modules = {node.id: registry()[node.module] for node in p.nodes}
    return [path.nodes for path in plan_elt(p, modules)]


CHAIN: list[tuple[str, str, dict[str, Any]]] = [
    ("keep", "filter_rows", {"condition": "id > 0"}),
    ("clean", "clean_text", {}),
    ("dedupe", "deduplicate", {}),
    ("fill", "fill_nulls", {"fills": [{"column": "id", "value": 0}]}),
    ("pick", "select_columns", {"columns": [{"name": "id", "cast": "integer"}]}),
]


@pytest.mark.parametrize("engine", ["auto", "elt"])
def test_whole_chain_fuses(engine: str) -> None:
    assert plan(pipeline(CHAIN, engine=engine)) == [("src", "keep", "clean", "dedupe", "fill", "pick", "dst")]


def test_direct_copy_fuses() -> None:
    assert plan(pipeline([])) == [("src", "dst")]


def test_engine_etl_never_pushes_down() -> None:
    assert plan(pipeline(CHAIN, engine="etl")) == []


PREFIX = ("src", "keep", "clean", "dedupe", "fill", "pick")  # a partial pushdown: the rows leave at pick


def test_different_conn_id_blocks() -> None:
    assert plan(pipeline(CHAIN, dest_conn="other")) == [PREFIX]
    with pytest.raises(EltPlanError, match=r"'dst'.*different connections"):
        plan(pipeline(CHAIN, dest_conn="other", engine="elt"))


def test_unsupported_module_blocks() -> None:
    chain = [*CHAIN[:2], ("fix", "python", {"callable": "pkg.mod:fix"}), *CHAIN[2:]]
    assert plan(pipeline(chain)) == [("src", "keep", "clean")]  # pushed up to the python node
    with pytest.raises(EltPlanError, match="'fix' uses python"):
        plan(pipeline(chain, engine="elt"))


def test_a_branch_to_two_tables_is_one_pushed_down_graph() -> None:
    """clean feeds the chain to dst and a side table on the same connection: one task loads both."""
    side = [{"id": "side", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "s"}}]
    p = pipeline(CHAIN, extra_nodes=side, extra_edges=[{"source": "clean", "target": "side"}])
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert path.nodes == ("src", "keep", "clean", "dedupe", "fill", "pick", "dst", "side")
    assert path.destinations == ("dst", "side") and path.destination == "side"
    assert dict(path.sinks) == {"dst": "pick", "side": "clean"}
    assert path.sources == ("src",) and path.transforms == ("keep", "clean", "dedupe", "fill", "pick")


def test_a_branch_to_another_connection_blocks() -> None:
    side = [{"id": "side", "module": "destination.postgres", "config": {"conn_id": "other", "table": "s"}}]
    edges = [{"source": "clean", "target": "side"}]
    assert plan(pipeline(CHAIN, extra_nodes=side, extra_edges=edges)) == [("src", "keep", "clean")]
    with pytest.raises(EltPlanError, match="'clean' feeds 2 nodes"):
        plan(pipeline(CHAIN, engine="elt", extra_nodes=side, extra_edges=edges))


CURSOR = {"incremental": {"column": "id", "mode": "cursor"}}


@pytest.mark.parametrize("engine", ["auto", "elt"])
def test_cursor_source_is_pushed_down_on_a_linear_path(engine: str) -> None:
    """Issue 14: a cursor source -> transforms -> one destination.postgres runs inside PostgreSQL (the
    destination's cursor committed with its rows, engine.elt_cursor), as a data interval source does."""
    assert plan(pipeline(CHAIN, engine=engine, source_extra=CURSOR)) == [
        ("src", "keep", "clean", "dedupe", "fill", "pick", "dst")
    ]
    interval = {"incremental": {"column": "d", "mode": "data_interval"}}
    assert len(plan(pipeline(CHAIN, engine=engine, source_extra=interval))) == 1


@pytest.mark.parametrize("engine", ["auto", "elt"])
def test_cursor_source_feeding_several_tables_is_pushed_down(engine: str) -> None:
    """A branch of a cursor source into several tables on its connection runs inside PostgreSQL in one
    task: it reads from the smallest of their cursors and each drops what it holds and commits its own
    cursor with its rows (engine.elt.run_elt; tests/integration/test_elt_cursor_branch.py)."""
    side = [{"id": "side", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "s"}}]
    edges = [{"source": "src", "target": "side"}]
    branched = pipeline(CHAIN, engine=engine, source_extra=CURSOR, extra_nodes=side, extra_edges=edges)
    [path] = plan_elt(branched, {node.id: registry()[node.module] for node in branched.nodes})
    assert set(path.destinations) == {"dst", "side"}
    assert path.sources == ("src",)


def graph(
    sources: dict[str, dict[str, Any]], into: str, *, engine: str = "auto", conn: str = "pg"
) -> Pipeline:
    """``sources`` (id: extra config) joined (the first on the left) into ``into``: ``"table"`` (one
    destination.postgres on ``conn``), ``"file"`` or ``"tables"`` (a table, and a side table fed by the
    join)."""
    ids = list(sources)
    nodes: list[dict[str, Any]] = [
        {"id": i, "module": "source.postgres", "config": {"conn_id": "pg", "table": i, **extra}}
        for i, extra in sources.items()
    ]
    nodes.append({"id": "joined", "module": "join", "config": {"how": "left", "on": ["k"]}})
    edges = [
        {"source": ids[0], "target": "joined", "target_port": "left"},
        {"source": ids[1], "target": "joined", "target_port": "right"},
    ]
    if into == "file":
        nodes.append(
            {
                "id": "out",
                "module": "destination.file",
                "config": {"path": "/tmp/o.parquet", "format": "parquet"},
            }
        )
    else:
        config = {"conn_id": conn, "table": "o", "mode": "merge", "keys": ["id"]}
        nodes.append({"id": "out", "module": "destination.postgres", "config": config})
    edges.append({"source": "joined", "target": "out"})
    if into == "tables":
        nodes.append(
            {"id": "side", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "s"}}
        )
        edges.append({"source": "joined", "target": "side"})
    return Pipeline.model_validate({"id": "p", "engine": engine, "nodes": nodes, "edges": edges})


INTERVAL = {"incremental": {"column": "d", "mode": "data_interval"}}
PUSHED_JOIN = ("facts", "dim", "joined", "out")


@pytest.mark.parametrize(
    ("sources", "into", "nodes", "exit_"),
    [
        # a cursor source joined with a table read in full, into one table: pushed down (the cursor is
        # committed with the rows, engine.elt_cursor), whichever input the cursor source is
        ({"facts": CURSOR, "dim": {}}, "table", PUSHED_JOIN, False),
        ({"dim": {}, "facts": CURSOR}, "table", ("dim", "facts", "joined", "out"), False),
        # into a file: the join runs in PostgreSQL, the file destination keeps the cursor (partial)
        ({"facts": CURSOR, "dim": {}}, "file", ("facts", "dim", "joined"), True),
        # on another connection: a partial pushdown too, the other database's destination keeps it
        ({"facts": CURSOR, "dim": {}}, "other", ("facts", "dim", "joined"), True),
        # into two tables: one task, one transaction; each keeps its own cursor (engine.elt.run_elt)
        ({"facts": CURSOR, "dim": {}}, "tables", (*PUSHED_JOIN, "side"), False),
        # two cursors, or a cursor beside an interval: ETL
        ({"facts": CURSOR, "dim": CURSOR}, "table", None, False),
        ({"facts": CURSOR, "dim": INTERVAL}, "table", None, False),
        ({"facts": CURSOR, "dim": CURSOR}, "file", None, False),
    ],
)
def test_cursor_source_in_a_graph(
    sources: dict[str, dict[str, Any]], into: str, nodes: tuple[str, ...] | None, exit_: bool
) -> None:
    p = graph(sources, into, conn="other" if into == "other" else "pg")
    modules = {node.id: registry()[node.module] for node in p.nodes}
    paths = plan_elt(p, modules)
    if nodes is None:
        assert paths == []
        return
    [path] = paths
    assert (path.nodes, path.exit) == (nodes, exit_)
    assert set(path.sources) == {"facts", "dim"}


@pytest.mark.parametrize(
    ("sources", "into", "match", "blocker"),
    [
        ({"facts": CURSOR, "dim": CURSOR}, "table", "source nodes 'facts', 'dim' read by cursor", "dim"),
        ({"facts": CURSOR, "dim": INTERVAL}, "table", "source node 'dim' reads incrementally", "dim"),
    ],
)
def test_cursor_graph_refused_with_elt_names_the_source(
    sources: dict[str, dict[str, Any]], into: str, match: str, blocker: str
) -> None:
    p = graph(sources, into, engine="elt")
    modules = {node.id: registry()[node.module] for node in p.nodes}
    with pytest.raises(EltPlanError, match=match) as raised:
        plan_elt(p, modules)
    assert raised.value.blocker == blocker


def test_cursor_source_into_a_file_is_a_partial_pushdown() -> None:
    """The file destination keeps the cursor; the staged result says what the source read."""
    to_file = [{"id": "out", "module": "destination.file", "config": {"path": "/tmp/o.csv", "format": "csv"}}]
    p = pipeline([("keep", "filter_rows", {"condition": "id > 0"})], source_extra=CURSOR)
    nodes = [n for n in p.model_dump(mode="json", by_alias=True)["nodes"] if n["id"] != "dst"] + to_file
    edges = [{"source": "src", "target": "keep"}, {"source": "keep", "target": "out"}]
    pushed = Pipeline.model_validate({"id": "p", "nodes": nodes, "edges": edges})
    modules = {node.id: registry()[node.module] for node in pushed.nodes}
    [path] = plan_elt(pushed, modules)
    assert (path.nodes, path.exit) == (("src", "keep"), True)


def test_elt_modules_are_exactly_the_registered_builders() -> None:
    # The planner (parsed by the DAG processor) finds the builders on the module definitions.
    from airflow_provider_logidata.dag_factory.elt_plan import elt_modules
    from airflow_provider_logidata.engine import builders

    expected = {
        "select_columns",
        "filter_rows",
        "deduplicate",
        "fill_nulls",
        "clean_text",
        "sort",
        "aggregate",
        "derive_column",
        "map_values",
        "parse_dates",
    }
    multi = {
        "join",
        "union",
        "route",
        "quality_check",
    }  # several inputs: built over their inputs' SELECTs (engine.elt._build_step)
    assert set(elt_modules()) == expected | multi
    assert {name for name in expected if builders.elt(name) is not None} == expected
    assert {name for name in multi if builders.elt(name) is None} == multi  # not one-in-one-out


# --- a node with several outputs as the exit of a partial pushdown ---------------------------------------

FILE_CONFIG = {"path": "/tmp/o.parquet", "format": "parquet"}
QUARANTINE = {"checks": [{"type": "not_null", "column": "id"}], "action": "quarantine"}


def split(
    module: str, config: dict[str, Any], targets: dict[str, str], *, engine: str = "auto", after: str = ""
) -> Pipeline:
    """src -> keep (a filter) -> split (``module``) -> per port in ``targets``: ``"file"``, ``"table"`` (a
    destination.postgres on the source's connection) or ``"other"`` (another connection). ``after``: a
    filter between ``split``'s first port and its target."""
    nodes: list[dict[str, Any]] = [
        {"id": "src", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}},
        {"id": "keep", "module": "filter_rows", "config": {"condition": "id > 0"}},
        {"id": "split", "module": module, "config": config},
    ]
    edges = [{"source": "src", "target": "keep"}, {"source": "keep", "target": "split"}]
    for index, (port, kind) in enumerate(targets.items()):
        target = f"to_{port}"
        if kind == "file":
            nodes.append({"id": target, "module": "destination.file", "config": FILE_CONFIG})
        else:
            conn = "pg" if kind == "table" else "other"
            nodes.append(
                {"id": target, "module": "destination.postgres", "config": {"conn_id": conn, "table": port}}
            )
        if after and index == 0:
            nodes.append({"id": after, "module": "filter_rows", "config": {"condition": "id > 1"}})
            edges += [
                {"source": "split", "source_port": port, "target": after},
                {"source": after, "target": target},
            ]
        else:
            edges.append({"source": "split", "source_port": port, "target": target})
    return Pipeline.model_validate({"id": "p", "engine": engine, "nodes": nodes, "edges": edges})


def where(p: Pipeline) -> dict[str, Any]:
    from airflow_provider_logidata.dag_factory.elt_plan import where_nodes_run

    return where_nodes_run(p, {node.id: registry()[node.module] for node in p.nodes})


ROUTE = {"condition": "id > 10"}


@pytest.mark.parametrize(
    ("module", "config", "targets", "ports"),
    [
        # a route's two outputs into two files: each port staged on its own
        ("route", ROUTE, {"matched": "file", "unmatched": "file"}, ("matched", "unmatched")),
        # one into a table on the same connection, one into a file: the route is the exit, the table
        # loads its staged port (the ETL destination.postgres task)
        ("route", ROUTE, {"matched": "table", "unmatched": "file"}, ("matched", "unmatched")),
        # into another database, or only one port connected: the same
        ("route", ROUTE, {"matched": "other", "unmatched": "table"}, ("matched", "unmatched")),
        ("route", ROUTE, {"unmatched": "file"}, ("matched", "unmatched")),
        # a quality check setting failing rows aside, and one that only fails or warns
        ("quality_check", QUARANTINE, {"out": "file", "rejected": "file"}, ("out", "rejected")),
        ("quality_check", {**QUARANTINE, "action": "fail"}, {"out": "file"}, ("out", "rejected")),
    ],
)
def test_a_multi_output_node_is_the_exit_of_a_partial_pushdown(
    module: str, config: dict[str, Any], targets: dict[str, str], ports: tuple[str, ...]
) -> None:
    p = split(module, config, targets)
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert (path.nodes, path.exit, path.destination, path.ports) == (
        ("src", "keep", "split"),
        True,
        "split",
        ports,
    )
    assert path.sources == ("src",) and path.transforms == ("keep", "split") and path.destinations == ()
    assert dict(path.inputs) == {"keep": (("src", None),), "split": (("keep", None),)}
    runs = where(p)
    assert runs["src"] == runs["keep"] == runs["split"] == ("postgres", None)  # was ("engine", ...) before
    for port, kind in targets.items():
        engine, why = runs[f"to_{port}"]
        assert engine == "engine"
        if kind == "table":  # staged, then loaded by the engine: the route also feeds something else
            assert "'split' feeds" in (why or "") and "a branch" in (why or ""), why


def test_a_route_whose_outputs_all_load_tables_stays_one_pushed_down_graph() -> None:
    """Nothing leaves the database: the whole graph loads both tables in one task, as before."""
    p = split("route", ROUTE, {"matched": "table", "unmatched": "table"})
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert not path.exit and path.ports == () and path.destinations == ("to_matched", "to_unmatched")


def test_a_single_output_exit_has_no_ports() -> None:
    p = split("filter_rows", {"condition": "id > 1"}, {"out": "file"})
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert path.exit and path.ports == () and path.nodes == ("src", "keep", "split") and path.linear


def test_the_route_ends_the_pushdown_before_a_node_after_one_of_its_ports() -> None:
    """A filter after the route's port runs in the engine over the staged port: the route is the exit."""
    p = split("route", ROUTE, {"matched": "file", "unmatched": "file"}, after="late")
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert path.destination == "split" and path.ports == ("matched", "unmatched")
    assert where(p)["late"] == ("engine", None)


def test_a_quality_check_postgres_cannot_run_ends_the_pushdown_before_it() -> None:
    regex = {"checks": [{"type": "regex", "column": "code", "pattern": "A[0-9]"}], "action": "quarantine"}
    p = split("quality_check", regex, {"out": "file", "rejected": "file"})
    modules = {node.id: registry()[node.module] for node in p.nodes}
    [path] = plan_elt(p, modules)
    assert path.nodes == ("src", "keep") and path.ports == ()
    assert where(p)["split"] == ("engine", None)


def test_engine_elt_still_refuses_a_table_fed_by_a_route_whose_other_output_leaves() -> None:
    with pytest.raises(EltPlanError, match="'split' feeds 2 nodes") as raised:
        plan(split("route", ROUTE, {"matched": "table", "unmatched": "file"}, engine="elt"))
    assert raised.value.node_id == "to_matched"


def test_the_dag_docs_say_which_outputs_leave_the_database() -> None:
    from airflow_provider_logidata.dag_factory.elt_plan import elt_doc

    p = split("route", ROUTE, {"matched": "file", "unmatched": "file"})
    modules = {node.id: registry()[node.module] for node in p.nodes}
    doc = elt_doc(plan_elt(p, modules))
    assert "only the rows of its outputs (`matched`, `unmatched`) leave the database" in doc
