"""filter_rows: keep the rows for which a SQL boolean expression is true.

The condition is written in DuckDB's SQL and checked once against the input columns
(:func:`_condition`, ``engine.conditions``) whichever engine runs it; the database runs its translation (ELT).
Both builders bind the condition before any data moves, so a type error names the node up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class FilterRowsConfig(ModuleConfig):
    """Keep the rows for which a SQL boolean expression is true."""

    condition: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL boolean expression over the input columns, e.g. amount > 0 AND status <> 'test'.",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


def _condition(ctx: TransformContext | EltContext, columns: Columns) -> tuple[FilterRowsConfig, str]:
    """The config and its condition checked against the input columns (DuckDB's SQL)."""
    from airflow_provider_logidata.engine.conditions import validate_condition

    config = ctx.config
    assert isinstance(config, FilterRowsConfig)
    return config, validate_condition(config.condition, columns, owner=ctx.owner)


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Keep rows for which the condition is true (rows where it is false or null are dropped)."""
    import duckdb

    from airflow_provider_logidata.engine.files import describe_error

    ctx.typed_config(FilterRowsConfig)
    config, condition = _condition(ctx, columns)
    sql = f"SELECT * FROM {relation} WHERE ({condition})"
    try:  # bind now: type errors and unknown functions surface before any data moves
        ctx.rows(f"DESCRIBE {sql}")
    except duckdb.Error as error:
        raise ctx.error(
            f"DuckDB rejects the condition {config.condition!r}: {describe_error(error)}; fix the condition"
        ) from None
    return sql


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """The condition translated by the dialect, checked for what may run there, then bound."""
    config, condition = _condition(ctx, columns)
    d = ctx.dialect
    what = f"the condition {config.condition!r}"
    translated = d.translate(ctx, condition, relation, what)
    d.check(ctx, translated, what)
    select = f"SELECT * FROM {relation} AS s WHERE ({translated})"
    ctx.probe(
        select, f"{what} (as {translated!r})", "fix the condition, or set the pipeline's engine to 'etl'"
    )
    return select


def _elt_refusal(config: FilterRowsConfig, dialect: SqlDialect) -> str | None:
    return dialect.expression_refusal(config.condition, "the condition")


MODULE = ModuleDef(
    name="filter_rows",
    category="transform",
    label="Filter rows",
    description="Keep rows matching a SQL condition.",
    config_model=FilterRowsConfig,
    icon="filter",
    fusable=True,
    row_order="keeps",
    duckdb=build_duckdb,
    elt=build_elt,
    elt_refusal=_elt_refusal,
    row_wise=True,
    subset_rows=True,
)
