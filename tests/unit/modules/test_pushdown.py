"""Expressions whose DuckDB meaning PostgreSQL cannot reproduce keep their step in the ETL engine."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.dag_factory.elt_plan import EltPlanError, plan_elt, where_nodes_run
from airflow_provider_logidata.modules.pushdown import duckdb_only
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec.models import Pipeline


@pytest.mark.parametrize(
    ("expression", "refused"),
    [
        ("TRY_CAST(code AS INTEGER)", True),
        ("try_cast (code as date) IS NULL", True),
        ("CAST(code AS INTEGER)", False),
        ("'TRY_CAST(x AS INT)' = note", False),  # in a string: just text
        ('"try_cast(" + 1', False),  # a quoted column name
        ("my_try_cast(x)", False),
    ],
)
def test_duckdb_only(expression: str, refused: bool) -> None:
    reason = duckdb_only(expression, "the condition")
    assert (reason is not None) == refused
    if refused:
        assert reason is not None and "TRY_CAST" in reason and "the condition" in reason


def _pipeline(module: str, config: dict[str, Any], engine: str = "auto") -> Pipeline:
    nodes = [
        {"id": "a", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}},
        {"id": "x", "module": module, "config": config},
        {"id": "d", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "o"}},
    ]
    edges = [{"source": "a", "target": "x"}, {"source": "x", "target": "d"}]
    return Pipeline.model_validate({"id": "p", "engine": engine, "nodes": nodes, "edges": edges})


@pytest.mark.parametrize(
    ("module", "config"),
    [
        ("derive_column", {"columns": [{"name": "n", "expression": "TRY_CAST(code AS INTEGER)"}]}),
        ("filter_rows", {"condition": "TRY_CAST(code AS INTEGER) > 1"}),
    ],
)
def test_a_try_cast_keeps_the_step_in_the_engine(module: str, config: dict[str, Any]) -> None:
    pipeline = _pipeline(module, config)
    modules = {node.id: registry()[node.module] for node in pipeline.nodes}
    assert plan_elt(pipeline, modules) == []
    engine, why = where_nodes_run(pipeline, modules)["x"]
    assert engine == "engine" and "TRY_CAST" in (why or "")
    with pytest.raises(EltPlanError, match="TRY_CAST"):
        plan_elt(_pipeline(module, config, engine="elt"), modules)
