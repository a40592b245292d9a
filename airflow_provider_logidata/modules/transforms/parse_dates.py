"""parse_dates: parse text columns into dates or timestamps with explicit strptime formats.

The DuckDB builder is the contract: DuckDB's ``strptime`` tries each format in order. Inside the database
(ELT) the dialect reads the formats as DuckDB does (``SqlDialect.strptime``; PostgreSQL's lenient
``to_date`` would let a month 13 roll over: ``engine/dialects/postgres_strptime.py``); a config using a
format it cannot read runs in the ETL engine (:func:`elt_refusal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, OnError
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
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


FIX = (
    "Add a format that matches, fix the data upstream, or set on_error to 'null' to turn such values into "
    "nulls"
)


def _problem(config: ParseDatesConfig) -> str:
    return f"match none of the formats {', '.join(config.formats)}"


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
    # Each value is tried as it is first, and trimmed only when no format matched it as it is: the same
    # result (DuckDB's strptime skips ASCII white space around the text itself, and a value with other
    # white space at an end matches no format that starts and ends without white space), without the
    # trimming expression on every value (0.2 s of the 5 M-row benchmark's 1 s of date parsing).
    # Checked value by value in tests/unit/modules/transforms/test_parse_dates_raw_first.py. Formats
    # with white space at an end match differently with and without it: then values are trimmed first.
    raw_first = all(fmt == fmt.strip() for fmt in config.formats)
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
        fallback = f"coalesce({attempts})"
        if config.on_error == "fail":
            message = quote_literal(
                f"{ctx.owner}: column {name!r}: a value matches none of the formats "
                f"{', '.join(config.formats)}"
            )
            guard = f"CASE WHEN {trimmed} IS NOT NULL THEN CAST(error({message}) AS {target}) END"
            fallback = f"coalesce({attempts}, {guard})"
        parsed = f"coalesce({attempts})"
        if raw_first:
            # A CASE, not one coalesce: DuckDB evaluates every argument of coalesce on every row, and a
            # CASE's ELSE only on the rows that reach it.
            raw = ", ".join(
                f"CAST(try_strptime({text}, {quote_literal(fmt)}) AS {target})" for fmt in config.formats
            )
            as_is = f"coalesce({raw})"
            fallback = f"CASE WHEN {as_is} IS NOT NULL THEN {as_is} ELSE {fallback} END"
            parsed = f"CASE WHEN {as_is} IS NOT NULL THEN {as_is} ELSE {parsed} END"
        replaced.append(f"{fallback} AS {column}")
        checks.append(
            BadValueCheck(
                column=name, bad_when=f"{trimmed} IS NOT NULL AND {parsed} IS NULL", problem=_problem(config)
            )
        )
    check_bad_values(ctx, relation, checks, on_error=config.on_error, fix=FIX)
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM {relation}"


# --- inside the database (ELT) -----------------------------------------------------------------


def elt_refusal(config: Any, dialect: SqlDialect) -> str | None:
    """Why this config cannot run inside the database (a format the dialect does not read as DuckDB
    does), or None: the module's ``elt_refusal``."""
    formats = config.get("formats") if isinstance(config, Mapping) else getattr(config, "formats", None)
    return dialect.strptime_refusal(list(formats or []))


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """The DuckDB builder's results inside the database, for formats its dialect reads as DuckDB does.

    Untouched columns are listed by name (no ``SELECT * REPLACE``). Values no format matches are counted
    before the step runs: ``fail`` stops with the count and examples of each column, ``null`` logs the
    count.
    """
    from airflow_provider_logidata.engine.elt_context import check_bad_values
    from airflow_provider_logidata.modules.transforms.clean_text import WS_CLASS

    config = ctx.typed_config(ParseDatesConfig)
    d = ctx.dialect
    refusal = d.strptime_refusal(config.formats)
    if refusal is not None:
        raise ctx.error(f"{refusal}; set the pipeline's engine to 'etl'")
    target = d.date if config.target == "date" else d.timestamp
    replaced: dict[str, str] = {}
    checks: list[tuple[str, str]] = []
    for requested in config.columns:
        name, type_sql = ctx.column(requested, columns)
        if name in replaced:
            continue
        column = d.ident(name)
        if d.is_temporal(type_sql):
            replaced[name] = d.cast(d.utc(column) if d.is_zoned(type_sql) else column, target)
            continue
        text = d.duck_text(column, type_sql)
        if text is None:
            raise ctx.error(
                f"column {name!r} is {type_sql}: parsing its text form is not pushed down to {d.label} (the "
                "text could differ from the ETL engine's); set the pipeline's engine to 'etl', or cast the "
                "column to string first"
            )
        trimmed = f"nullif({d.regexp_replace_all(text, f'^{WS_CLASS}+|{WS_CLASS}+$', '')}, '')"
        parsed = d.cast(f"{d.strptime(ctx, config.formats)}({trimmed})", target)
        replaced[name] = parsed
        checks.append((name, f"{trimmed} IS NOT NULL AND {parsed} IS NULL"))
    problem = _problem(config)
    check_bad_values(
        ctx, relation, [(c, bad, problem) for c, bad in checks], on_error=config.on_error, fix=FIX
    )
    items = [
        f"{replaced[name]} AS {d.ident(name)}" if name in replaced else d.ident(name) for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


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
    elt=build_elt,
    elt_refusal=elt_refusal,
    row_wise=True,
    changes_column=_changes_column,
)
