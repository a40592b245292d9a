"""sort: order rows by one or more columns; rows with equal keys keep their input order (stable).

A row number taken before the sort breaks ties, so a rerun writes the same file. The DuckDB and the
ELT builder share the keys (:func:`_keys`); inside the database text compares by code point, as DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class SortKey(ModuleConfig):
    column: ColumnName = Field(description="Column to sort by.")
    descending: bool = Field(False, description="Largest first.")
    nulls: Literal["first", "last"] = Field("last", description="Where rows with a null value go.")


class SortConfig(ModuleConfig):
    """Order rows by one or more columns; rows with equal keys keep their input order (stable)."""

    by: list[SortKey] = Field(min_length=1, description="Sort keys, most significant first.")


def _keys(
    ctx: TransformContext | EltContext,
    config: SortConfig,
    columns: Columns,
    ordered: Callable[[str, str], str],
) -> list[str]:
    """The ``ORDER BY`` items of the keys; ``ordered(name, type)`` is how the dialect compares a column."""
    keys = []
    for key in config.by:
        name, type_sql = ctx.column(key.column, columns)
        direction = "DESC" if key.descending else "ASC"
        keys.append(f"{ordered(name, type_sql)} {direction} NULLS {key.nulls.upper()}")
    return keys


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Order by the keys; ties keep input order (a row number breaks them, so the sort is stable)."""
    from airflow_provider_logidata.engine.binding import ROW_NUMBER, numbered
    from airflow_provider_logidata.engine.sql import quote_ident, unique_name

    config = ctx.typed_config(SortConfig)
    row = unique_name(ROW_NUMBER, columns)
    keys = _keys(ctx, config, columns, lambda name, _: quote_ident(name))
    return (
        f"SELECT * EXCLUDE ({quote_ident(row)}) FROM {numbered(relation, row)} "
        f"ORDER BY {', '.join(keys)}, {quote_ident(row)}"
    )


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Order by the keys; ties keep input order (a row number breaks them: a stable sort)."""
    from airflow_provider_logidata.engine.sql import unique_name

    config = ctx.typed_config(SortConfig)
    d = ctx.dialect
    row = d.ident(unique_name("__logidata_row", columns))
    keys = _keys(ctx, config, columns, lambda name, type_sql: d.ordered(d.ident(name), type_sql))
    outputs = ", ".join(d.ident(name) for name, _ in columns)
    return (
        f"SELECT {outputs} FROM (SELECT *, row_number() OVER () AS {row} FROM {relation} AS s) AS n "
        f"ORDER BY {', '.join(keys)}, {row}"
    )


MODULE = ModuleDef(
    name="sort",
    category="transform",
    label="Sort",
    description="Order rows by one or more columns.",
    config_model=SortConfig,
    icon="arrow-down-up",
    fusable=True,
    # Sorts consume their whole input before the first row comes out (a chain materialises them once)
    # and keep every row.
    keeps_rows=True,
    blocking=True,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
)
