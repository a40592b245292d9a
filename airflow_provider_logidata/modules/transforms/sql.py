"""sql: one user-written SELECT over the inputs, for what no other module does.

The query is parsed and checked against the input names before DuckDB sees it, and it runs on a
connection with external access disabled and its configuration locked: it can read only its inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext


class SqlConfig(ModuleConfig):
    """A SELECT query over the inputs, for what no other module does."""

    query: str = Field(
        min_length=1,
        max_length=100_000,
        description="One SELECT (WITH and UNION allowed). Each input is a table named after its upstream "
        "node (upstream__port for a named output) and also input_0, input_1, ... in input order. "
        "Files, databases, settings and other statements are refused.",
        json_schema_extra={"x-logidata-widget": "sql"},
    )


def sql_view_name(ref: str) -> str:
    """The table name under which the ``sql`` module exposes an input: ``task_id`` or ``task_id__port``."""
    return ref.replace(":", "__")


def build_duckdb(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The user's SELECT, checked by ``validate_query`` against the input names, bound before it runs.

    Inputs are views named after their upstream reference and ``input_0``, ``input_1``, ...; the
    configuration is locked before the query runs, and external access is already disabled.
    """
    from airflow_provider_logidata.engine.binding import bind
    from airflow_provider_logidata.engine.conditions import validate_query
    from airflow_provider_logidata.engine.sql import quote_ident

    config = ctx.typed_config(SqlConfig)
    tables = [item.relation for item in inputs]
    for item in inputs:
        name = sql_view_name(item.ref)
        if name.lower() in {table.lower() for table in tables}:
            ctx.log.warning(
                f"{ctx.owner}: input {item.ref!r} is not exposed under its own name, which is taken by "
                f"another input; use {item.relation}"
            )
            continue
        ctx.rows(f"CREATE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {item.relation}")
        tables.append(name)
    query = validate_query(config.query, tables, owner=ctx.owner)
    ctx.rows("SET lock_configuration = true")
    bind(ctx, query, what="the SQL", fix="fix the query (table and column names, types, functions)")
    return {"out": query}


MODULE = ModuleDef(
    name="sql",
    category="transform",
    label="SQL",
    description="Run a SELECT query over the inputs.",
    config_model=SqlConfig,
    multi=True,
    min_inputs=1,
    max_inputs=None,
    icon="database",
    duckdb=build_duckdb,
)
