"""route: send each row to ``matched`` or ``unmatched`` by a SQL condition, exactly one of the two.

Runs inside PostgreSQL too (``build_elt``) when both outputs it feeds load tables on the sources'
connection (``dag_factory.elt_plan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext


class RouteConfig(ModuleConfig):
    """Send each row to ``matched`` or ``unmatched`` by a SQL condition."""

    condition: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL boolean expression over the input columns. Rows where it is true go to matched; "
        "false or null (unknown) go to unmatched.",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


def build_duckdb(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Rows where the condition is true go to ``matched``, the rest (false or null) to ``unmatched``.

    Each output is its own query over the input; a condition whose value may change between queries
    (``random()``, ``now()``) is evaluated once into a temporary table so every row goes to exactly one
    output.
    """
    from airflow_provider_logidata.engine.binding import bind, is_volatile
    from airflow_provider_logidata.engine.conditions import validate_condition
    from airflow_provider_logidata.engine.sql import quote_ident, unique_name

    config = ctx.typed_config(RouteConfig)
    (source,) = inputs
    condition = validate_condition(config.condition, source.columns, owner=ctx.owner)
    relation = source.relation
    bind(
        ctx,
        f"SELECT * FROM {relation} WHERE ({condition})",
        what=f"the condition {config.condition!r}",
        fix="fix the condition",
    )
    if is_volatile(condition):
        flag = quote_ident(unique_name("__logidata_matched", source.columns))
        ctx.rows(
            f"CREATE TEMP TABLE __logidata_route AS SELECT *, ({condition}) IS TRUE AS {flag} FROM {relation}"
        )
        return {
            "matched": f"SELECT * EXCLUDE ({flag}) FROM __logidata_route WHERE {flag}",
            "unmatched": f"SELECT * EXCLUDE ({flag}) FROM __logidata_route WHERE NOT {flag}",
        }
    return {
        "matched": f"SELECT * FROM {relation} WHERE ({condition}) IS TRUE",
        "unmatched": f"SELECT * FROM {relation} WHERE ({condition}) IS NOT TRUE",
    }


def build_elt(ctx: EltContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The same split inside the database. The input, with the condition's value for each row, is
    computed once into a temporary table (dropped at commit) and each output is a statement over it: the
    input runs once for both outputs, and every row goes to exactly one of them even when the
    condition's value could change between statements (``random()``, ``now()``)."""
    import hashlib

    from airflow_provider_logidata.engine.conditions import validate_condition
    from airflow_provider_logidata.engine.sql import unique_name

    config = ctx.typed_config(RouteConfig)
    d = ctx.dialect
    (source,) = inputs
    what = f"the condition {config.condition!r}"
    condition = validate_condition(config.condition, source.columns, owner=ctx.owner)
    translated = d.translate(ctx, condition, source.relation, what)
    d.check(ctx, translated, what)
    flag = d.ident(unique_name("__logidata_matched", source.columns))
    flagged = f"SELECT s.*, ({translated}) IS TRUE AS {flag} FROM {source.relation} AS s"
    ctx.probe(
        flagged, f"{what} (as {translated!r})", "fix the condition, or set the pipeline's engine to 'etl'"
    )
    table = ctx.temp_table("logidata_route_" + hashlib.sha1(ctx.node_id.encode()).hexdigest()[:12], flagged)
    columns = ", ".join(d.ident(name) for name, _ in source.columns)
    return {
        "matched": f"SELECT {columns} FROM {table} WHERE {flag}",
        "unmatched": f"SELECT {columns} FROM {table} WHERE NOT {flag}",
    }


def _elt_refusal(config: RouteConfig, dialect: SqlDialect) -> str | None:
    return dialect.expression_refusal(config.condition, "the condition")


MODULE = ModuleDef(
    name="route",
    category="transform",
    label="Route",
    description="Split rows into matched and unmatched by a condition.",
    config_model=RouteConfig,
    multi=True,
    outputs=("matched", "unmatched"),
    icon="split",
    duckdb=build_duckdb,
    elt=build_elt,
    elt_refusal=_elt_refusal,
    row_wise=True,
    subset_rows=True,
)
