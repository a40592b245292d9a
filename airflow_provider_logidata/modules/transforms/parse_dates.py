"""parse_dates: parse text columns into dates or timestamps with explicit strptime formats.

DuckDB only: there is no PostgreSQL builder, so a path through this step is not pushed down to
PostgreSQL (``dag_factory.elt_plan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, OnError
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class ParseDatesConfig(ModuleConfig):
    """Parse text columns into dates or timestamps with explicit formats."""

    columns: list[ColumnName] = Field(min_length=1, description="Text columns to parse.")
    formats: list[str] = Field(
        min_length=1,
        description="strptime formats tried in order, e.g. %Y-%m-%d, %d/%m/%Y, %Y-%m-%dT%H:%M:%S.",
    )
    target: Literal["date", "timestamp"] = Field("date", description="Resulting type.")
    on_error: OnError = Field(
        "fail", description="A text no format matches: fail the task, or make it null and log the count."
    )


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Parse text into dates or timestamps, trying each strptime format in order.

    Surrounding white space is ignored and empty texts become null (they are missing, not wrong).
    Columns that already hold dates or timestamps are converted to the target type without parsing;
    other types are parsed from their text form.

    With ``on_error = fail`` a value matching no format stops the query itself (an ``error()`` guard
    reached only when every format failed), so there is no scan before the step runs; the counts and
    examples are gathered only after such a failure (see ``check_bad_values``).
    """
    import duckdb

    from airflow_provider_logidata.engine.files import describe_error
    from airflow_provider_logidata.engine.sql import is_temporal, is_text, quote_ident, quote_literal
    from airflow_provider_logidata.engine.transforms import BadValueCheck, check_bad_values
    from airflow_provider_logidata.modules.transforms.clean_text import WHITESPACE

    config = ctx.typed_config(ParseDatesConfig)
    target = "DATE" if config.target == "date" else "TIMESTAMP"
    for fmt in config.formats:
        try:
            ctx.rows(f"SELECT try_strptime('', {quote_literal(fmt)})")
        except duckdb.Error as error:
            raise ctx.error(
                f"invalid date format {fmt!r}: {describe_error(error)}; use strptime codes such as "
                "%Y-%m-%d or %d/%m/%Y %H:%M:%S"
            ) from None
    replaced: list[str] = []
    checks: list[BadValueCheck] = []
    done: set[str] = set()
    for requested in config.columns:
        name, duck_type = ctx.column(requested, columns)
        if name in done:
            continue
        done.add(name)
        column = quote_ident(name)
        if is_temporal(duck_type):
            replaced.append(f"CAST({column} AS {target}) AS {column}")
            continue
        text = column if is_text(duck_type) else f"CAST({column} AS VARCHAR)"
        trimmed = (
            f"nullif(regexp_replace({text}, {quote_literal(f'^{WHITESPACE}+|{WHITESPACE}+$')}, '', 'g'), '')"
        )
        attempts = ", ".join(
            f"CAST(try_strptime({trimmed}, {quote_literal(fmt)}) AS {target})" for fmt in config.formats
        )
        parsed = f"coalesce({attempts})"
        if config.on_error == "fail":
            message = quote_literal(
                f"{ctx.owner}: column {name!r}: a value matches none of the formats "
                f"{', '.join(config.formats)}"
            )
            guard = f"CASE WHEN {trimmed} IS NOT NULL THEN CAST(error({message}) AS {target}) END"
            replaced.append(f"coalesce({attempts}, {guard}) AS {column}")
        else:
            replaced.append(f"{parsed} AS {column}")
        checks.append(
            BadValueCheck(
                column=name,
                bad_when=f"{trimmed} IS NOT NULL AND {parsed} IS NULL",
                problem=f"match none of the formats {', '.join(config.formats)}",
            )
        )
    check_bad_values(
        ctx,
        relation,
        checks,
        on_error=config.on_error,
        fix="Add a format that matches, fix the data upstream, or set on_error to 'null' to turn such "
        "values into nulls",
    )
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM {relation}"


def _dates_to_null(config: Any) -> bool:
    """parse_dates counts, before it runs, the values it turns into nulls (``on_error = null``)."""
    return isinstance(config, ParseDatesConfig) and config.on_error == "null"


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    return "rewrites" if column in (config.get("columns") or []) else ""


MODULE = ModuleDef(
    name="parse_dates",
    category="transform",
    label="Parse dates",
    description="Parse text into dates or timestamps.",
    config_model=ParseDatesConfig,
    icon="calendar",
    fusable=True,
    row_order="keeps",
    keeps_rows=True,
    rescans=_dates_to_null,
    duckdb=build_duckdb,
    row_wise=True,
    changes_column=_changes_column,
)
