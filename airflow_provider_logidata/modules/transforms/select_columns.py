"""select_columns: keep, order, rename and cast columns.

Casts give DuckDB's results in both engines. The DuckDB and the ELT builder share the plan
(:func:`_select`: resolving and renaming, the kept columns, the failing-value checks and their fix);
they differ only in how each dialect spells a cast. The ELT builder refuses a cast whose result could
differ from DuckDB's rather than give another answer (``SqlDialect.exact_cast``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import CastType, ColumnName, ModuleConfig, NewColumnName, OnError
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class ColumnSelection(ModuleConfig):
    name: ColumnName = Field(description="Input column.")
    rename: NewColumnName | None = Field(None, description="New name (default: keep the name).")
    cast: CastType | None = Field(None, description="Convert to this type (default: keep the type).")


class SelectColumnsConfig(ModuleConfig):
    """Keep, order, rename and cast columns."""

    columns: list[ColumnSelection] = Field(min_length=1, description="Columns to output, in order.")
    keep_other_columns: bool = Field(
        False, description="Also pass through input columns not listed, after the listed ones."
    )
    on_error: OnError = Field(
        "fail", description="A value that cannot be cast: fail the task, or make it null and log the count."
    )

    @model_validator(mode="after")
    def _unique_outputs(self) -> SelectColumnsConfig:
        seen: set[str] = set()
        for column in self.columns:
            out = column.rename or column.name
            if out in seen:
                raise ValueError(f"output column {out!r} appears twice; each output name must be unique")
            seen.add(out)
        return self


FIX = "Fix the data upstream, choose another type, or set on_error to 'null' to turn such values into nulls"
# A failing-value check: (column, SQL true for a value that cannot be converted, what is wrong with it).
Check = tuple[str, str, str]


def _select(
    ctx: TransformContext | EltContext,
    columns: Columns,
    cast: Callable[[CastType, str, str, str], tuple[str, str | None]],
) -> tuple[list[tuple[str, str]], list[Check]]:
    """(SQL, output name) per output column, and the checks of the casts that may fail.

    ``cast(cast name, column, its type, the column's SQL)`` is the dialect's: the converted SQL, and the
    SQL true for a value it cannot convert (None when every value converts).
    """
    from airflow_provider_logidata.engine.sql import CAST_TYPES, check_distinct_outputs, quote_ident

    config = ctx.config
    assert isinstance(config, SelectColumnsConfig)
    items: list[tuple[str, str]] = []
    listed: set[str] = set()
    checks: list[Check] = []
    for selection in config.columns:
        name, type_sql = ctx.column(selection.name, columns)
        listed.add(name)
        expression = quote_ident(name)
        if selection.cast is not None:
            expression, bad_when = cast(selection.cast, name, type_sql, expression)
            if bad_when is not None:
                problem = f"cannot be cast to {selection.cast} ({CAST_TYPES[selection.cast]})"
                checks.append((name, bad_when, problem))
        items.append((expression, selection.rename or name))
    if config.keep_other_columns:
        items.extend((quote_ident(name), name) for name, _ in columns if name not in listed)
    check_distinct_outputs((output for _, output in items), owner=ctx.owner)
    return items, checks


def _outputs(items: list[tuple[str, str]]) -> str:
    from airflow_provider_logidata.engine.sql import quote_ident

    return ", ".join(f"{expression} AS {quote_ident(output)}" for expression, output in items)


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Keep, order, rename and cast columns.

    Casts use DuckDB's rules (see ``sql.CAST_TYPES`` for the types); with ``on_error = fail`` any non-null
    value that cannot be converted fails the task with examples, with ``null`` it becomes null.
    """
    from airflow_provider_logidata.engine.sql import CAST_TYPES
    from airflow_provider_logidata.engine.transforms import BadValueCheck, check_bad_values

    config = ctx.typed_config(SelectColumnsConfig)
    cast_function = "TRY_CAST" if config.on_error == "null" else "CAST"

    def cast(cast_type: CastType, name: str, duck_type: str, column: str) -> tuple[str, str | None]:
        target = CAST_TYPES[cast_type]
        if duck_type.replace(" ", "").upper() == target.replace(" ", "").upper():
            return column, None
        converted = f"{cast_function}({column} AS {target})"
        if target == "VARCHAR":  # everything converts to text
            return converted, None
        return converted, f"{column} IS NOT NULL AND TRY_CAST({column} AS {target}) IS NULL"

    items, checks = _select(ctx, columns, cast)
    check_bad_values(
        ctx,
        relation,
        [
            BadValueCheck(column=name, bad_when=bad_when, problem=problem)
            for name, bad_when, problem in checks
        ],
        on_error=config.on_error,
        fix=FIX,
    )
    return f"SELECT {_outputs(items)} FROM {relation}"


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Casts that give DuckDB's result in the database too; text is converted as DuckDB's ``TRY_CAST``."""
    from airflow_provider_logidata.engine.elt_context import check_bad_values
    from airflow_provider_logidata.engine.sql import CAST_TYPES

    config = ctx.typed_config(SelectColumnsConfig)
    d = ctx.dialect

    def cast(cast_type: CastType, name: str, type_sql: str, column: str) -> tuple[str, str | None]:
        duck_target = CAST_TYPES[cast_type]
        target = d.from_duck(duck_target)
        if d.same_type(type_sql, target):
            return column, None
        if d.exact_cast(type_sql, duck_target):
            return d.cast(column, target), None
        if d.is_text(type_sql):
            converted = d.try_cast(ctx, column, target)
            return converted, f"{column} IS NOT NULL AND {converted} IS NULL"
        raise ctx.error(
            f"casting column {name!r} from {type_sql} to {cast_type} is not pushed down to "
            f"{d.label} (its result could differ from the ETL engine's); set the pipeline's "
            "engine to 'etl', or cast to text first"
        )

    items, checks = _select(ctx, columns, cast)
    check_bad_values(ctx, relation, checks, on_error=config.on_error, fix=FIX)
    return f"SELECT {_outputs(items)} FROM {relation} AS s"


def _casts_to_null(config: Any) -> bool:
    """select_columns counts, before it runs, the values its casts turn into nulls (``on_error = null``)."""
    return (
        isinstance(config, SelectColumnsConfig)
        and config.on_error == "null"
        and any(selection.cast is not None for selection in config.columns)
    )


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    """A cursor or key column must pass unchanged: listed without rename or cast, or kept as another."""
    entries = config.get("columns") or []
    listed = [e for e in entries if e.get("name") == column]
    if any(e.get("rename") == column and e.get("name") != column for e in entries):
        return "replaces"
    if not listed:
        return "" if config.get("keep_other_columns") else "drops"
    if any(e.get("rename") not in (None, column) for e in listed):
        return "renames"
    if any(e.get("cast") for e in listed):
        return "casts"
    return ""


MODULE = ModuleDef(
    name="select_columns",
    category="transform",
    label="Select columns",
    description="Keep, order, rename and cast columns.",
    config_model=SelectColumnsConfig,
    icon="columns",
    fusable=True,
    row_order="keeps",
    keeps_rows=True,
    rescans=_casts_to_null,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
    changes_column=_changes_column,
)
