"""Issue 13's table: broken pipelines caught at validate time, naming node and field, with no task run.

Every column-naming field of every module, type mismatches, invalid SQL, union inputs that do not line
up and ELT refusals; each case is one small edit of a pipeline that validates clean, and the unedited
pipeline is checked clean too ("the same pipelines fixed validate clean"). Sources are real CSV files
read by the run's own reader; nothing runs a task.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.schema.check import check_pipeline

ORDERS = "order_id,customer,country,order_date,amount,status\n1, Ann ,FR,2024-01-02,10.5,paid\n2,Bob,DE,2024-01-03,,test\n"
COUNTRIES = "code,name\nFR,France\nDE,Germany\n"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken")
    (folder / "orders.csv").write_text(ORDERS)
    (folder / "countries.csv").write_text(COUNTRIES)
    return folder


def _node(node_id: str, module: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "module": module, "label": node_id.replace("_", " ").title(), "config": config}


def _linear(folder: Path, *steps: dict[str, Any], engine: str = "auto") -> dict[str, Any]:
    read = _node("read", "source.file", path=str(folder / "orders.csv"), format="csv")
    write = _node("write", "destination.file", path=str(folder / "out" / "orders.parquet"), format="parquet")
    nodes = [read, *steps, write]
    edges = [
        {"source": a["id"], "target": b["id"], "source_port": "matched" if a["module"] == "route" else "out"}
        for a, b in itertools.pairwise(nodes)
    ]
    return {"spec_version": 1, "id": "broken", "engine": engine, "nodes": nodes, "edges": edges}


def _joined(folder: Path, **join: Any) -> dict[str, Any]:
    pipeline = _linear(folder)
    pipeline["nodes"].insert(1, _node("countries", "source.file", path=str(folder / "countries.csv")))
    pipeline["nodes"].insert(2, _node("step", "join", **join))
    pipeline["edges"] = [
        {"source": "read", "target": "step", "target_port": "left"},
        {"source": "countries", "target": "step", "target_port": "right"},
        {"source": "step", "target": "write"},
    ]
    return pipeline


def _unioned(folder: Path, left: dict[str, Any] | None, right_source: str) -> dict[str, Any]:
    pipeline = _linear(folder)
    other = _node("other", "source.file", path=str(folder / right_source))
    nodes = [pipeline["nodes"][0], other]
    edges = []
    feed = "read"
    if left is not None:
        nodes.append(left)
        edges.append({"source": "read", "target": left["id"]})
        feed = left["id"]
    nodes += [_node("step", "union"), pipeline["nodes"][-1]]
    edges += [
        {"source": feed, "target": "step"},
        {"source": "other", "target": "step"},
        {"source": "step", "target": "write"},
    ]
    return {**pipeline, "nodes": nodes, "edges": edges}


def _elt(module: str, config: dict[str, Any]) -> dict[str, Any]:
    """``engine: elt`` over PostgreSQL nodes: refused from the graph alone (no server is reached)."""
    src = _node("flights", "source.postgres", conn_id="pg", table="flights")
    dest = _node("write", "destination.postgres", conn_id="pg", table="out")
    nodes = [src, _node("step", module, **config), dest]
    edges = [{"source": "flights", "target": "step"}, {"source": "step", "target": "write"}]
    return {"spec_version": 1, "id": "broken", "engine": "elt", "nodes": nodes, "edges": edges}


Build = Callable[[Path, bool], dict[str, Any]]


def step(module: str, good: dict[str, Any], bad: dict[str, Any]) -> Build:
    """A linear pipeline with one ``step`` node whose config is ``good`` or, broken, ``bad``."""
    return lambda folder, broken: _linear(folder, _node("step", module, **(bad if broken else good)))


def source_columns(folder: Path, broken: bool) -> dict[str, Any]:
    pipeline = _linear(folder)
    pipeline["nodes"][0]["config"]["columns"] = ["order_id", "amout" if broken else "amount"]
    return pipeline


def destination(module: str, good: dict[str, Any], bad: dict[str, Any]) -> Build:
    def build(folder: Path, broken: bool) -> dict[str, Any]:
        pipeline = _linear(folder)
        target = (
            _node("write", module, **(bad if broken else good))
            if module == "destination.postgres"
            else _node("write", module, path=str(folder / "out"), **(bad if broken else good))
        )
        pipeline["nodes"][-1] = target
        return pipeline

    return build


# (case, build, node at fault, field at fault or None, words the message must contain)
CASES: list[tuple[str, Build, str, str | None, str]] = [
    # ---- every column-naming field of every module
    ("source.file columns", source_columns, "read", "columns[1]", "did you mean 'amount'"),
    (
        "deduplicate columns",
        step("deduplicate", {"columns": ["order_id"]}, {"columns": ["order_idd"]}),
        "step",
        "columns[0]",
        "'order_id'",
    ),
    (
        "clean_text columns",
        step("clean_text", {"columns": ["customer"]}, {"columns": ["custmer"]}),
        "step",
        "columns[0]",
        "'customer'",
    ),
    (
        "parse_dates columns",
        step(
            "parse_dates",
            {"columns": ["order_date"], "formats": ["%Y-%m-%d"]},
            {"columns": ["order_dat"], "formats": ["%Y-%m-%d"]},
        ),
        "step",
        "columns[0]",
        "'order_date'",
    ),
    (
        "fill_nulls column",
        step(
            "fill_nulls",
            {"fills": [{"column": "amount", "value": 0}]},
            {"fills": [{"column": "amont", "value": 0}]},
        ),
        "step",
        "fills[0].column",
        "'amount'",
    ),
    (
        "filter_rows condition column",
        step("filter_rows", {"condition": "status <> 'test'"}, {"condition": "statsu <> 'test'"}),
        "step",
        "condition",
        "statsu",
    ),
    (
        "sort column",
        step("sort", {"by": [{"column": "amount"}]}, {"by": [{"column": "amout"}]}),
        "step",
        "by[0].column",
        "'amount'",
    ),
    (
        "select_columns name",
        step("select_columns", {"columns": [{"name": "amount"}]}, {"columns": [{"name": "amout"}]}),
        "step",
        "columns[0].name",
        "'amount'",
    ),
    (
        "aggregate group_by",
        step(
            "aggregate",
            {"group_by": ["country"], "aggregations": [{"function": "count"}]},
            {"group_by": ["contry"], "aggregations": [{"function": "count"}]},
        ),
        "step",
        "group_by[0]",
        "'country'",
    ),
    (
        "aggregate column",
        step(
            "aggregate",
            {"group_by": [], "aggregations": [{"column": "amount", "function": "sum"}]},
            {"group_by": [], "aggregations": [{"column": "amout", "function": "sum"}]},
        ),
        "step",
        "aggregations[0].column",
        "'amount'",
    ),
    (
        "derive_column expression column",
        step(
            "derive_column",
            {"columns": [{"name": "twice", "expression": "amount * 2"}]},
            {"columns": [{"name": "twice", "expression": "amout * 2"}]},
        ),
        "step",
        "columns[0].expression",
        "amout",
    ),
    (
        "map_values column",
        step(
            "map_values",
            {"column": "status", "mapping": {"paid": "P"}},
            {"column": "stauts", "mapping": {"paid": "P"}},
        ),
        "step",
        "column",
        "'status'",
    ),
    (
        "quality_check column",
        step(
            "quality_check",
            {"checks": [{"type": "not_null", "column": "order_id"}]},
            {"checks": [{"type": "not_null", "column": "order_idd"}]},
        ),
        "step",
        "checks[0].column",
        "'order_id'",
    ),
    (
        "quality_check keys",
        step(
            "quality_check",
            {"checks": [{"type": "unique", "column": "order_id"}], "keys": ["order_id"]},
            {"checks": [{"type": "unique", "column": "order_id"}], "keys": ["orderid"]},
        ),
        "step",
        "keys[0]",
        "'order_id'",
    ),
    (
        "route condition column",
        step("route", {"condition": "amount > 5"}, {"condition": "amout > 5"}),
        "step",
        "condition",
        "amout",
    ),
    (
        "join on missing left",
        lambda f, b: _joined(
            f,
            on=["code"] if b else None,
            left_on=None if b else ["country"],
            right_on=None if b else ["code"],
        ),
        "step",
        "on[0]",
        "left input",
    ),
    (
        "join right_on",
        lambda f, b: _joined(f, left_on=["country"], right_on=["cod" if b else "code"]),
        "step",
        "right_on[0]",
        "'code'",
    ),
    (
        "join left_on",
        lambda f, b: _joined(f, left_on=["contry" if b else "country"], right_on=["code"]),
        "step",
        "left_on[0]",
        "'country'",
    ),
    (
        "sql query column",
        step("sql", {"query": "SELECT amount FROM input_0"}, {"query": "SELECT amout FROM input_0"}),
        "step",
        "query",
        "amout",
    ),
    (
        "destination.file partition_by",
        destination("destination.file", {"partition_by": ["country"]}, {"partition_by": ["contry"]}),
        "write",
        "partition_by[0]",
        "'country'",
    ),
    (
        "destination.postgres keys",
        destination(
            "destination.postgres",
            {"conn_id": "pg", "table": "t", "mode": "merge", "keys": ["order_id"]},
            {"conn_id": "pg", "table": "t", "mode": "merge", "keys": ["order_idd"]},
        ),
        "write",
        "keys[0]",
        "'order_id'",
    ),
    # ---- type mismatches, caught by DuckDB binding the node's SQL on empty inputs
    (
        "filter_rows text minus number",
        step("filter_rows", {"condition": "amount - 1 > 0"}, {"condition": "customer - 1 > 0"}),
        "step",
        "condition",
        "customer",
    ),
    (
        "derive_column text times number",
        step(
            "derive_column",
            {"columns": [{"name": "x", "expression": "amount * 2"}]},
            {"columns": [{"name": "x", "expression": "customer * 2"}]},
        ),
        "step",
        "columns[0].expression",
        "customer",
    ),
    (
        "aggregate sum of text",
        step(
            "aggregate",
            {"group_by": [], "aggregations": [{"column": "amount", "function": "sum"}]},
            {"group_by": [], "aggregations": [{"column": "customer", "function": "sum"}]},
        ),
        "step",
        "aggregations[0].column",
        "customer",
    ),
    (
        "fill_nulls mean of text",
        step(
            "fill_nulls",
            {"fills": [{"column": "amount", "strategy": "mean"}]},
            {"fills": [{"column": "customer", "strategy": "mean"}]},
        ),
        "step",
        "fills[0].column",
        "customer",
    ),
    # ---- invalid SQL, in plain words
    (
        "filter_rows invalid SQL",
        step("filter_rows", {"condition": "amount > 5"}, {"condition": "amount >>> 5 AND"}),
        "step",
        "condition",
        "cannot parse",
    ),
    (
        "derive_column invalid SQL",
        step(
            "derive_column",
            {"columns": [{"name": "x", "expression": "amount + 1"}]},
            {"columns": [{"name": "x", "expression": "amount +"}]},
        ),
        "step",
        "columns[0].expression",
        "cannot parse",
    ),
    (
        "sql invalid SQL",
        step("sql", {"query": "SELECT * FROM input_0"}, {"query": "SELEC * FROM input_0"}),
        "step",
        "query",
        "SQL",
    ),
    (
        "route invalid SQL",
        step("route", {"condition": "amount > 5"}, {"condition": "amount >"}),
        "step",
        "condition",
        "cannot parse",
    ),
    # ---- union inputs that do not line up
    (
        "union with no shared column",
        lambda f, b: _unioned(f, None, "countries.csv" if b else "orders.csv"),
        "step",
        None,
        "share no column",
    ),
    (
        "union of date and boolean",
        lambda f, b: _unioned(
            f,
            _node(
                "left",
                "derive_column",
                columns=[{"name": "order_date", "expression": "amount > 0" if b else "order_date"}],
            ),
            "orders.csv",
        ),
        "step",
        None,
        "do not line up",
    ),
]
ELT_CASES = [
    (
        "elt sql node",
        lambda f, b: _elt("sql", {"query": "SELECT * FROM input_0"}),
        "step",
        "no PostgreSQL builder",
    ),
    (
        "elt python node",
        lambda f, b: _elt("python", {"callable": "json:dumps"}),
        "step",
        "no PostgreSQL builder",
    ),
]


def _errors(pipeline: dict[str, Any]) -> list[Any]:
    return check_pipeline(copy.deepcopy(pipeline), reach="local").errors


@pytest.mark.parametrize(("case", "build", "node", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_broken_pipeline_is_caught_at_validate_time(
    data_dir: Path, case: str, build: Build, node: str, field: str | None, words: str
) -> None:
    errors = _errors(build(data_dir, True))
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert (error.node_id, error.field) == (node, field), str(error)
    assert words in error.message, error.message
    assert "<class" not in error.message and "sqlglot" not in error.message
    assert _errors(build(data_dir, False)) == []


@pytest.mark.parametrize(("case", "build", "node", "words"), ELT_CASES, ids=[c[0] for c in ELT_CASES])
def test_elt_refusal_names_the_node_that_prevents_pushdown(
    data_dir: Path, case: str, build: Build, node: str, words: str
) -> None:
    errors = check_pipeline(build(data_dir, True), reach="none").errors
    assert [(e.node_id, e.path) for e in errors] == [(node, "engine")]
    assert words in errors[0].message
    fixed = {**build(data_dir, True), "engine": "auto"}
    assert check_pipeline(fixed, reach="none").errors == []


def test_the_table_covers_every_column_field_of_every_built_in_module() -> None:
    """A new module or column field gets a row here (its field named in CASES)."""
    from airflow_provider_logidata.modules.registry import builtin_registry

    covered = {
        (case.split(" ")[0], field.split("[")[0].split(".")[0]) for case, _b, _n, field, _w in CASES if field
    }
    missing = []
    for definition in builtin_registry():
        schema = definition.config_model.model_json_schema(by_alias=True)
        for name, prop in schema.get("properties", {}).items():
            if _marks_column(prop, schema.get("$defs", {})) and (definition.name, name) not in covered:
                missing.append(f"{definition.name}.{name}")
    # source.postgres reads a server: its fields are in tests/integration/test_schema_checks_pg.py.
    assert missing == ["source.postgres.columns", "source.postgres.incremental"], missing


def _marks_column(node: Any, defs: dict[str, Any]) -> bool:
    import json

    text = json.dumps(node)
    for name, body in defs.items():
        if f'"#/$defs/{name}"' in text:
            text += json.dumps(body)
    return '"x-logidata-widget": "column"' in text
