"""aggregate: one output row per group of equal key values, with counts, sums, averages, minima and maxima.

Groups come out sorted by their keys (nulls last), so a rerun writes the same file. The DuckDB and the
ELT builder share the query's shape (:func:`_select`); they differ in how each dialect spells an
aggregate of one column. The ELT step is cast to the types the DuckDB builder gives (see
``engine.elt_types``), which also runs DuckDB's checks and messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, NewColumnName, unique_names
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext

AggregateFunction = Literal["count", "count_distinct", "sum", "avg", "min", "max"]


class Aggregation(ModuleConfig):
    # ``as`` is a Python keyword: the field is ``as_`` in Python and ``as`` in JSON, both ways.
    model_config = ConfigDict(serialize_by_alias=True)

    column: ColumnName | None = Field(
        None, description="Input column; leave empty with count to count rows (count(*))."
    )
    function: AggregateFunction = Field(
        description="count: non-null values (rows without a column); count_distinct: distinct non-null "
        "values; sum, avg: numbers; min, max: any comparable type. Nulls are ignored."
    )
    as_: NewColumnName | None = Field(
        None,
        alias="as",
        description="Output column name (default: <column>_<function>, or count for a row count).",
    )

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregation:
        if self.column is None and self.function != "count":
            raise ValueError(f"function {self.function!r} needs a column")
        return self

    @property
    def output(self) -> str:
        if self.as_:
            return self.as_
        return "count" if self.column is None else f"{self.column}_{self.function}"


class AggregateConfig(ModuleConfig):
    """One output row per group of equal key values, with counts, sums, averages, minima and maxima."""

    group_by: list[ColumnName] = Field(
        default_factory=list,
        description="Key columns; rows with equal keys form one group (nulls form a group of their own). "
        "Empty: one row for the whole input. Output is sorted by these columns.",
    )
    aggregations: list[Aggregation] = Field(
        default_factory=list, description="Values computed per group, in output order after the keys."
    )

    @model_validator(mode="after")
    def _outputs(self) -> AggregateConfig:
        if not self.group_by and not self.aggregations:
            raise ValueError("set group_by, aggregations or both")
        unique_names(list(self.group_by), "group_by column")
        unique_names([*self.group_by, *(a.output for a in self.aggregations)], "output column")
        return self


def _counted(function: str, column: str) -> str | None:
    """``count`` and ``count_distinct``, spelt alike in both dialects (``None`` for other functions)."""
    if function == "count":
        return f"count({column})"
    if function == "count_distinct":
        return f"count(DISTINCT {column})"
    return None


def _select(
    ctx: TransformContext | EltContext,
    config: AggregateConfig,
    source: str,
    columns: Columns,
    aggregate: Callable[[str, str, str], str],
    ordered: Callable[[str, str], str],
) -> str:
    """The aggregate query over ``source``.

    ``aggregate(function, name, type)`` is the dialect's SQL of one aggregation of a column;
    ``ordered(name, type)`` how it compares a key column.
    """
    from airflow_provider_logidata.engine.sql import quote_ident

    keys = [ctx.column(name, columns)[0] for name in config.group_by]
    items = [quote_ident(key) for key in keys]
    for aggregation in config.aggregations:
        if aggregation.column is None:
            expression = "count(*)"
        else:
            name, type_sql = ctx.column(aggregation.column, columns)
            expression = aggregate(aggregation.function, name, type_sql)
        items.append(f"{expression} AS {quote_ident(aggregation.output)}")
    sql = f"SELECT {', '.join(items)} FROM {source}"
    if keys:
        group = ", ".join(quote_ident(key) for key in keys)
        order = ", ".join(f"{ordered(key, dict(columns)[key])} ASC NULLS LAST" for key in keys)
        sql += f" GROUP BY {group} ORDER BY {order}"
    return sql


_SMALL_INTEGERS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"})


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """One row per group (sorted by the keys, nulls last), or one row for the whole input.

    Aggregates ignore nulls (``count`` without a column counts rows). Sums of integers are BIGINT (an
    overflow fails the task), of decimals DECIMAL(38, s), of floats DOUBLE; ``avg`` is DOUBLE. Booleans
    sum as the number of true values and average as their share.
    """
    from airflow_provider_logidata.engine.sql import is_numeric, quote_ident

    def aggregate(function: str, name: str, duck_type: str) -> str:
        column = quote_ident(name)
        boolean = duck_type.upper() == "BOOLEAN"
        if function in ("sum", "avg") and not (is_numeric(duck_type) or boolean):
            raise ctx.error(
                f"{function} needs a numeric column; {name!r} is {duck_type}. Cast it to a number "
                "first (select_columns) or use count, min or max"
            )
        if boolean and function in ("sum", "avg"):
            column = f"CAST({column} AS INTEGER)"
        counted = _counted(function, column)
        if counted is not None:
            return counted
        if function == "sum" and (boolean or duck_type.upper() in _SMALL_INTEGERS):
            return f"CAST(sum({column}) AS BIGINT)"
        return f"{function}({column})"

    config = ctx.typed_config(AggregateConfig)
    return _select(ctx, config, relation, columns, aggregate, lambda key, _: quote_ident(key))


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """GROUP BY the keys, sorted by them (text by code point, nulls last), as the DuckDB builder."""
    from airflow_provider_logidata.engine.elt_types import cast_to, duck_types

    d = ctx.dialect

    def aggregate(function: str, name: str, type_sql: str) -> str:
        column = d.ident(name)
        boolean = d.is_boolean(type_sql)
        if boolean and function in ("sum", "avg"):
            column = d.cast(column, "integer")
        counted = _counted(function, column)
        if counted is not None:
            return counted
        if function in ("min", "max") and boolean:
            return d.boolean_min_max(function, column)
        if function in ("min", "max"):
            return f"{function}({d.ordered(column, type_sql)})"
        return f"{function}({column})"

    config = ctx.config
    assert isinstance(config, AggregateConfig)
    types = duck_types(ctx)
    select = _select(
        ctx,
        config,
        f"{relation} AS s",
        columns,
        aggregate,
        lambda key, type_sql: d.ordered(d.ident(key), type_sql),
    )
    return cast_to(ctx, select, types)


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    return "" if column in (config.get("group_by") or []) else "drops"


MODULE = ModuleDef(
    name="aggregate",
    category="transform",
    label="Aggregate",
    description="Group rows and compute counts, sums, averages, minima and maxima.",
    config_model=AggregateConfig,
    icon="sigma",
    fusable=True,
    row_order="discards",  # groups come out in no particular order; the aggregates ignore order
    # An aggregate consumes its whole input before the first row comes out (a chain materialises it once).
    blocking=True,
    duckdb=build_duckdb,
    elt=build_elt,
    changes_column=_changes_column,
)
