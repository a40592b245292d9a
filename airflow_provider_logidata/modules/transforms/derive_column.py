"""derive_column: add or replace columns computed with SQL expressions.

Expressions are one row-level SQL expression each, checked by ``engine.conditions`` against the columns
before anything binds them, and regenerated from the checked tree. The DuckDB and the ELT builder
share the column plan (:func:`_derive`): the ELT one translates each checked expression into the
database's dialect (``SqlDialect.translate``, sqlglot) and casts its result to the types the DuckDB
builder gives (``engine.elt_types``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig, NewColumnName, unique_names
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class DerivedColumn(ModuleConfig):
    name: NewColumnName = Field(description="Output column; an existing column of that name is replaced.")
    expression: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL expression over the input columns (and columns derived earlier in the list), "
        "e.g. price * quantity or upper(country).",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


class DeriveColumnConfig(ModuleConfig):
    """Add or replace columns computed with SQL expressions."""

    columns: list[DerivedColumn] = Field(
        min_length=1,
        description="Computed in order: an expression may use the columns derived before it.",
    )

    @model_validator(mode="after")
    def _unique(self) -> DeriveColumnConfig:
        unique_names([c.name for c in self.columns], "derived column")
        return self


def _what(derived: DerivedColumn) -> str:
    return f"the expression of column {derived.name!r} ({derived.expression!r})"


def _derive(
    ctx: TransformContext | EltContext,
    config: DeriveColumnConfig,
    relation: str,
    columns: Columns,
    *,
    alias: str,
    star: str,
    translate: Callable[[DerivedColumn, str, str], str],
    bound: Callable[[DerivedColumn, str, str], Columns],
) -> str:
    """Each column over the input plus the columns derived before it: one SELECT nested per column.

    A column whose name matches an input column (ignoring case) replaces it in place; others are
    appended. ``translate(derived, checked, relation)`` gives the dialect's SQL of a checked expression
    over ``relation``; ``bound(derived, select, expression)`` the columns of ``select`` as the database
    binds them.
    """
    from airflow_provider_logidata.engine.binding import find_column
    from airflow_provider_logidata.engine.conditions import validate_expression
    from airflow_provider_logidata.engine.sql import quote_ident

    current, current_columns = relation, list(columns)
    sql = f"SELECT * FROM {relation}{alias}"
    for derived in config.columns:
        checked = validate_expression(
            derived.expression,
            current_columns,
            owner=f"{ctx.owner}, column {derived.name!r}",
            fix="write one SQL expression over the input columns, e.g. price * quantity",
            aggregates=False,
        )
        expression = translate(derived, checked, current)
        existing = find_column(derived.name, current_columns, owner=ctx.owner)
        if existing is None:
            items = f"{star}, ({expression}) AS {quote_ident(derived.name)}"
        else:
            items = ", ".join(
                f"({expression}) AS {quote_ident(derived.name)}" if name == existing[0] else quote_ident(name)
                for name, _ in current_columns
            )
        sql = f"SELECT {items} FROM {current}{alias}"
        current_columns = bound(derived, sql, expression)
        current = f"({sql})"
    return sql


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Compute columns in order, each over the input plus the columns derived before it.

    Window functions are allowed; aggregates without a window and subqueries are not. DuckDB binds each
    step as it is built, so a type or function error names its column.
    """
    from airflow_provider_logidata.engine.binding import bind

    def bound(derived: DerivedColumn, sql: str, expression: str) -> Columns:
        return bind(ctx, sql, what=_what(derived), fix="fix the expression (types and function names)")

    config = ctx.typed_config(DeriveColumnConfig)
    return _derive(
        ctx,
        config,
        relation,
        columns,
        alias="",
        star="*",
        translate=lambda _, checked, __: checked,
        bound=bound,
    )


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Each expression (checked as the ETL engine checks it) translated by the dialect (sqlglot)."""
    from airflow_provider_logidata.engine.elt_types import cast_to, duck_types
    from airflow_provider_logidata.engine.errors import LogiDataTaskError

    d = ctx.dialect

    def translate(derived: DerivedColumn, checked: str, current: str) -> str:
        expression = d.translate(ctx, checked, current, _what(derived))
        d.check(ctx, expression, _what(derived))
        return expression

    def bound(derived: DerivedColumn, select: str, expression: str) -> Columns:
        try:
            return [(c.name, c.type_sql) for c in ctx.describe(select)]
        except LogiDataTaskError as error:
            raise ctx.error(
                f"{d.label} rejects {_what(derived)} (as {expression!r}): {str(error).split(': ', 2)[-1]}; "
                "fix the expression, or set the pipeline's engine to 'etl'"
            ) from None

    config = ctx.typed_config(DeriveColumnConfig)
    types = duck_types(ctx)
    select = _derive(
        ctx, config, relation, columns, alias=" AS s", star="s.*", translate=translate, bound=bound
    )
    return cast_to(ctx, select, types)


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    return "replaces" if any(c.get("name") == column for c in config.get("columns") or []) else ""


def _elt_refusal(config: DeriveColumnConfig, dialect: SqlDialect) -> str | None:
    for derived in config.columns:
        reason = dialect.expression_refusal(derived.expression, f"the expression of {derived.name!r}")
        if reason is not None:
            return reason
    return None


MODULE = ModuleDef(
    name="derive_column",
    category="transform",
    label="Derive column",
    description="Add or replace columns computed with SQL expressions.",
    config_model=DeriveColumnConfig,
    icon="function-square",
    fusable=True,
    keeps_rows=True,
    duckdb=build_duckdb,
    elt=build_elt,
    elt_refusal=_elt_refusal,
    row_wise=True,
    changes_column=_changes_column,
)
