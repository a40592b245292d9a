"""union: stack the rows of two or more inputs, matching columns by name (ignoring case)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pydantic import Field

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext


class UnionConfig(ModuleConfig):
    """Stack the rows of two or more inputs, matching columns by name."""

    distinct: bool = Field(
        False, description="Drop duplicate rows (the first occurrence is kept), like SQL UNION."
    )


def build_duckdb(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Stack the inputs in order, matching columns by name (ignoring case); absent columns are null.

    Columns come in order of first appearance. A column whose types differ between inputs gets a type
    that holds both (a number and a text give text). ``distinct`` keeps one of equal rows, as SQL's
    ``UNION`` does (see ``deduplicate``: the rows then do not keep input order).
    """
    from airflow_provider_logidata.engine.binding import bind, find_column
    from airflow_provider_logidata.modules.transforms.deduplicate import DeduplicateConfig
    from airflow_provider_logidata.modules.transforms.deduplicate import build_duckdb as build_deduplicate

    config = ctx.typed_config(UnionConfig)
    shared = {name.lower() for name, _t in inputs[0].columns}
    for item in inputs[1:]:
        shared &= {name.lower() for name, _t in item.columns}
    if not shared:
        listing = "; ".join(f"{item.ref}: {', '.join(n for n, _t in item.columns)}" for item in inputs)
        raise ctx.error(
            f"the inputs share no column name, so no row would line up with another ({listing}); rename "
            "the columns to match (select_columns), or use a join"
        )
    sql = " UNION ALL BY NAME ".join(f"SELECT * FROM {item.relation}" for item in inputs)
    result = bind(ctx, sql, what="the union", fix="check the column types of the inputs")
    for name, duck_type in result:
        absent = [item.ref for item in inputs if find_column(name, item.columns, owner=ctx.owner) is None]
        if absent:
            ctx.log.warning(
                f"{ctx.owner}: column {name!r} is missing in {', '.join(absent)}; filled with nulls"
            )
        types = {
            item.ref: found[1]
            for item in inputs
            if (found := find_column(name, item.columns, owner=ctx.owner)) is not None
        }
        if len(set(types.values())) > 1:
            shown = ", ".join(f"{t} in {ref}" for ref, t in types.items())
            families = {_family(t) for t in types.values()}
            if len(families - {"text"}) > 1 and families != {"number", "boolean"}:
                raise ctx.error(
                    f"column {name!r} is {shown}: these types do not line up (the union would make it "
                    f"{duck_type} and fail on the first value that does not convert); convert one input's "
                    "column first (select_columns cast, parse_dates) or rename it"
                )
            ctx.log.warning(f"{ctx.owner}: column {name!r} is {shown}; the union makes it {duck_type}")
    if not config.distinct:
        return {"out": sql}
    ctx.rows(f"CREATE TEMP VIEW __logidata_union AS {sql}")
    dedupe = dataclasses.replace(ctx, config=DeduplicateConfig())
    return {"out": build_deduplicate(dedupe, "__logidata_union", result)}


_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "U")


def build_elt(ctx: EltContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The same union inside the database: columns by name (ignoring case) in order of first
    appearance, absent ones null, each cast to the type the ETL engine's union gives it (``elt_types``,
    so number and text stacked become text as in DuckDB, where PostgreSQL alone would refuse),
    ``distinct`` as ``SELECT DISTINCT``. The DuckDB builder's checks run first, so a union that does not
    line up is refused with the same message."""
    from airflow_provider_logidata.engine.elt_types import duck_multi_types

    config = ctx.typed_config(UnionConfig)
    d = ctx.dialect
    typed = [(item.ref, item.port, ctx.describe(f"SELECT * FROM {item.relation} AS q")) for item in inputs]
    types = duck_multi_types(ctx, typed)
    parts = []
    for item in inputs:
        present = {name.lower(): name for name, _type in item.columns}
        columns = []
        for name, type_sql in types:
            found = present.get(name.lower())
            value = f"q.{d.ident(found)}" if found is not None else "NULL"
            columns.append(f"{d.cast(value, type_sql)} AS {d.ident(name)}")
        parts.append(f"SELECT {', '.join(columns)} FROM {item.relation} AS q")
    sql = "\nUNION ALL\n".join(parts)
    if config.distinct:
        sql = f"SELECT DISTINCT * FROM (\n{sql}\n) AS u"
    return {"out": sql}


def _family(duck_type: str) -> str:
    """Which values a type holds, for deciding whether two inputs' columns can be stacked."""
    upper = duck_type.upper()
    if upper.startswith(("VARCHAR", "TEXT", "STRING")):
        return "text"
    if upper.startswith(_NUMBERS):
        return "number"
    if upper.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "time"
    if upper == "BOOLEAN":
        return "boolean"
    return upper.split("(", 1)[0]


MODULE = ModuleDef(
    name="union",
    category="transform",
    label="Union",
    description="Stack the rows of several inputs, matching columns by name.",
    config_model=UnionConfig,
    multi=True,
    min_inputs=2,
    max_inputs=None,
    icon="layers",
    duckdb=build_duckdb,
    elt=build_elt,
)
