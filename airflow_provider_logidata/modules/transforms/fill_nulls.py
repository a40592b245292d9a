"""fill_nulls: replace nulls per column with a constant or a statistic of the column's non-null values.

The fill value takes the column's own type, so the schema never changes (a mean filled into an integer
column is rounded). Several fills for one column apply in order. The DuckDB and the ELT builder
share the plan (:func:`_fills`) and the type checks; they differ only in how each dialect spells a
checked constant and a statistic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class Fill(ModuleConfig):
    column: ColumnName = Field(description="Column whose nulls are filled.")
    strategy: Literal["constant", "mean", "median", "mode", "min", "max"] = Field(
        "constant", description="Where the fill value comes from."
    )
    value: Any = Field(
        None,
        description="The value, for `constant`.",
        json_schema_extra={"type": ["string", "number", "integer", "boolean", "null"]},
    )

    @model_validator(mode="after")
    def _value_matches_strategy(self) -> Fill:
        if not isinstance(self.value, str | int | float | bool | None):
            raise ValueError("value must be a text, a number or a boolean")
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value")
        if self.strategy != "constant" and self.value is not None:
            raise ValueError(f"strategy {self.strategy!r} computes the value; remove 'value'")
        return self


class FillNullsConfig(ModuleConfig):
    """Replace nulls with a constant or a statistic of the column."""

    fills: list[Fill] = Field(min_length=1, description="One entry per column to fill.")


# The dialect's ``is_numeric`` and ``is_temporal`` over its own type names.
TypeKinds = tuple["Callable[[str], bool]", "Callable[[str], bool]"]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _check_statistic(
    ctx: TransformContext | EltContext, fill: Fill, name: str, type_sql: str, kinds: TypeKinds
) -> None:
    """Refuse a statistic the column's type has none of (the same rule in both dialects)."""
    is_numeric, is_temporal = kinds
    if fill.strategy == "mean" and not is_numeric(type_sql):
        raise ctx.error(f"strategy 'mean' needs a numeric column; {name!r} is {type_sql}; use 'mode'")
    if fill.strategy == "median" and not (is_numeric(type_sql) or is_temporal(type_sql)):
        raise ctx.error(
            f"strategy 'median' needs a numeric or date column; {name!r} is {type_sql}; use 'mode'"
        )


def _fills(
    ctx: TransformContext | EltContext,
    columns: Columns,
    value_sql: Callable[[Fill, str, str], str],
    kinds: TypeKinds,
) -> dict[str, list[str]]:
    """Per output column, the SQL of its fill values in order (``coalesce`` arguments)."""
    config = ctx.config
    assert isinstance(config, FillNullsConfig)
    per_column: dict[str, list[str]] = {}
    for fill in config.fills:
        name, type_sql = ctx.column(fill.column, columns)
        if fill.strategy != "constant":
            _check_statistic(ctx, fill, name, type_sql, kinds)
        per_column.setdefault(name, []).append(value_sql(fill, name, type_sql))
    return per_column


def _mode(relation: str, column: str, ordered: str) -> str:
    """Most frequent value; ties go to the smallest value so the result is deterministic."""
    return (
        f"(SELECT {column} FROM {relation} AS s WHERE {column} IS NOT NULL "
        f"GROUP BY {column} ORDER BY count(*) DESC, {ordered} LIMIT 1)"
    )


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Statistics are uncorrelated scalar subqueries, computed once by DuckDB."""
    from airflow_provider_logidata.engine.sql import is_numeric, is_temporal, quote_ident, quote_literal

    def value_sql(fill: Fill, name: str, duck_type: str) -> str:
        column = quote_ident(name)
        if fill.strategy == "constant":
            literal = f"TRY_CAST({quote_literal(_text(fill.value))} AS {duck_type})"
            if ctx.value(f"SELECT {literal} IS NULL"):
                raise ctx.error(
                    f"value {fill.value!r} does not fit column {name!r} of type {duck_type}; use a value "
                    "of that type"
                )
            return literal
        if fill.strategy == "mode":
            return _mode(relation, column, column)
        function = {"mean": "avg", "median": "median", "min": "min", "max": "max"}[fill.strategy]
        return f"(SELECT CAST({function}({column}) AS {duck_type}) FROM {relation})"

    per_column = _fills(ctx, columns, value_sql, (is_numeric, is_temporal))
    replaced = ", ".join(
        f"coalesce({quote_ident(name)}, {', '.join(values)}) AS {quote_ident(name)}"
        for name, values in per_column.items()
    )
    config = ctx.typed_config(FillNullsConfig)
    ctx.log.info(
        f"{ctx.owner}: filling nulls in "
        + ", ".join(
            f"{fill.column!r} ({fill.strategy}{f' {fill.value!r}' if fill.strategy == 'constant' else ''})"
            for fill in config.fills
        )
    )
    return f"SELECT * REPLACE ({replaced}) FROM {relation}"


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """The DuckDB builder's results inside the database: text compares by code point, medians and
    decimal means as DuckDB's."""
    d = ctx.dialect

    def value_sql(fill: Fill, name: str, type_sql: str) -> str:
        column = d.ident(name)
        if fill.strategy == "constant":
            if d.is_text(type_sql):
                return d.cast(d.literal(_text(fill.value)), type_sql)
            # A helper function returns the bare type (PostgreSQL drops a function's typmod): cast back
            # to the column's type, or coalesce widens numeric(10,2) to numeric.
            literal = d.cast(d.try_cast(ctx, d.literal(_text(fill.value)), type_sql), type_sql)
            if ctx.rows(f"SELECT {literal} IS NULL")[0][0]:
                raise ctx.error(
                    f"value {fill.value!r} does not fit column {name!r} of type {type_sql}; use a value "
                    "of that type"
                )
            return literal
        if fill.strategy == "median" and not d.is_numeric(type_sql):
            raise ctx.error(
                f"strategy 'median' on the date column {name!r} is not pushed down to {d.label}; set the "
                "pipeline's engine to 'etl'"
            )
        if fill.strategy == "mode":
            return _mode(relation, column, d.ordered(column, type_sql))
        if fill.strategy == "median" and d.is_decimal(type_sql):
            return _decimal_median(ctx, relation, column, name, type_sql)
        if fill.strategy == "mean" and d.decimal_scale(type_sql) is not None:
            return _decimal_mean(ctx, relation, column, type_sql)
        if fill.strategy == "mean":
            statistic = d.cast(f"avg({column})", d.double)
        elif fill.strategy == "median":
            statistic = d.median(d.cast(column, d.double))
        else:
            statistic = f"{fill.strategy}({d.ordered(column, type_sql)})"
        return f"(SELECT {d.cast(statistic, type_sql)} FROM {relation} AS s)"

    per_column = _fills(ctx, columns, value_sql, (d.is_numeric, d.is_temporal))
    items = [
        f"coalesce({d.ident(name)}, {', '.join(per_column[name])}) AS {d.ident(name)}"
        if name in per_column
        else d.ident(name)
        for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


def _decimal_mean(ctx: EltContext, relation: str, column: str, type_sql: str) -> str:
    """DuckDB's mean of a DECIMAL in the column's type: its average is a DOUBLE (the sum, correctly
    rounded to a double, divided by the count), made DECIMAL(p,s) by DuckDB's DOUBLE-to-DECIMAL cast
    (``SqlDialect.double_to_decimal``: rounded on the double). PostgreSQL's float8-to-numeric cast would
    round through 15 digits instead (1.2549999... as 1.26, where DuckDB gives 1.25)."""
    d = ctx.dialect
    scale = d.decimal_scale(type_sql)
    mean = f"{d.cast(f'sum({column})', d.double)} / {d.cast(f'count({column})', d.double)}"
    return f"(SELECT {d.cast(f'{d.double_to_decimal(ctx)}({mean}, {scale})', type_sql)} FROM {relation} AS s)"


def _decimal_median(ctx: EltContext, relation: str, column: str, name: str, type_sql: str) -> str:
    """DuckDB's median of a DECIMAL: the mean of the middle values, truncated to the column's scale."""
    d = ctx.dialect
    scale = d.decimal_scale(type_sql)
    if scale is None:
        raise ctx.error(
            f"strategy 'median' on the numeric column {name!r} without a scale is not pushed down to "
            f"{d.label}; set the pipeline's engine to 'etl'"
        )
    middle = (
        f"SELECT {column} AS v FROM {relation} AS s WHERE {column} IS NOT NULL ORDER BY {column} "
        f"LIMIT (SELECT 2 - count({column}) % 2 FROM {relation} AS s) "
        f"OFFSET (SELECT (count({column}) - 1) / 2 FROM {relation} AS s)"
    )
    return f"(SELECT {d.cast(f'trunc(avg(m.v), {scale})', type_sql)} FROM ({middle}) AS m)"


def _fills_with_statistics(config: Any) -> bool:
    """A statistic fill (mean, mode, ...) is a subquery reading the step's input once more."""
    return isinstance(config, FillNullsConfig) and any(fill.strategy != "constant" for fill in config.fills)


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    return "fills" if any(f.get("column") == column for f in config.get("fills") or []) else ""


MODULE = ModuleDef(
    name="fill_nulls",
    category="transform",
    label="Fill nulls",
    description="Replace nulls with a constant or a column statistic.",
    config_model=FillNullsConfig,
    icon="paint-bucket",
    fusable=True,
    row_order="keeps",
    keeps_rows=True,
    rescans=_fills_with_statistics,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
    changes_column=_changes_column,
)
