"""The PostgreSQL (ELT) builders of the row-level transforms: select_columns, filter_rows, deduplicate,
fill_nulls, clean_text and sort. Each compiles to a SELECT over the previous step, mirroring the DuckDB
builder of ``engine.transforms``; the builders' pre-checks (failing casts with counts and examples,
unknown columns) run as queries in a ``read_only_step``. Importing this module registers them
(``engine.elt_context.register_step``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from airflow_provider_logidata.engine.elt_context import (
    Columns,
    EltContext,
    base_type,
    case_collation,
    check_pushed,
    collated,
    is_integer,
    is_numeric,
    is_temporal,
    is_text,
    read_only_step,
    register_step,
)
from airflow_provider_logidata.engine.pg_connect import pg_error
from airflow_provider_logidata.engine.sql import (
    CAST_TYPES,
    check_distinct_outputs,
    quote_ident,
    quote_literal,
    unique_name,
)
from airflow_provider_logidata.modules.catalog import SortConfig
from airflow_provider_logidata.modules.transforms import (
    CleanTextConfig,
    DeduplicateConfig,
    FillNullsConfig,
    FilterRowsConfig,
    SelectColumnsConfig,
)

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.transforms import Fill

EXAMPLES = 5
# RE2's \s ([\t\n\f\r ]) plus Unicode's Z category: the DuckDB builders' [\s\p{Z}], for PostgreSQL's regex.
WS_CLASS = "[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NOT_WS_CLASS = "[^\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# select_columns cast names -> PostgreSQL types (the DuckDB types of ``sql.CAST_TYPES``).
PG_CAST_TYPES: dict[str, str] = {
    "string": "text",
    "integer": "bigint",
    "float": "double precision",
    "decimal": "numeric(38,9)",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp without time zone",
}


def _check_bad_values(
    ctx: EltContext, relation: str, checks: list[tuple[str, str, str]], *, on_error: str, fix: str
) -> None:
    """(column, bad_when, problem): count failures in one scan; fail with examples or warn (on_error null)."""
    if not checks:
        return
    counts = ctx.rows(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {bad})" for _c, bad, _p in checks)
        + f" FROM {relation} AS s"
    )[0]
    failures = []
    for (column, bad, problem), count in zip(checks, counts, strict=True):
        if not count:
            continue
        if on_error == "null":
            ctx.log.warning(
                f"{ctx.owner}: {count} value(s) in column {column!r} {problem}; "
                "they become null (on_error = null)"
            )
            continue
        examples: list[str] = []
        for (value,) in ctx.rows(
            f"SELECT CAST({quote_ident(column)} AS text) FROM {relation} AS s WHERE {bad} LIMIT 100"
        ):
            if value not in examples:
                examples.append(value)
            if len(examples) == EXAMPLES:
                break
        failures.append(
            f"column {column!r}: {count} value(s) {problem}, e.g. " + ", ".join(map(repr, examples))
        )
    if failures:
        raise ctx.error("; ".join(failures) + f". {fix}")


def _same_type(pg_type: str, target: str) -> bool:
    return pg_type.replace(" ", "").lower() == target.replace(" ", "").lower() or (
        base_type(pg_type) in ("timestamp", "timestamp without time zone")
        and target.startswith("timestamp without")
    )


@register_step("select_columns")
def build_select_columns(ctx: EltContext, relation: str, columns: Columns) -> str:
    config = ctx.config
    assert isinstance(config, SelectColumnsConfig)
    items: list[tuple[str, str]] = []
    listed: set[str] = set()
    checks: list[tuple[str, str, str]] = []
    for selection in config.columns:
        name, pg_type = ctx.column(selection.name, columns)
        listed.add(name)
        expression = quote_ident(name)
        if selection.cast is not None:
            target = PG_CAST_TYPES[selection.cast]
            if not _same_type(pg_type, target):
                exact = (
                    (
                        selection.cast == "string"
                        and (
                            is_text(pg_type)
                            or is_integer(pg_type)
                            or base_type(pg_type) in ("numeric", "date", "boolean")
                        )
                    )
                    or (selection.cast in ("integer", "float", "decimal") and is_integer(pg_type))
                    or (selection.cast in ("float", "decimal") and base_type(pg_type) == "numeric")
                    or (
                        selection.cast in ("date", "timestamp")
                        and is_temporal(pg_type)
                        and "with time zone" not in pg_type
                    )
                )
                if exact:
                    expression = f"CAST({expression} AS {target})"
                elif is_text(pg_type):
                    converted = ctx.try_cast(expression, target)
                    checks.append(
                        (
                            name,
                            f"{expression} IS NOT NULL AND {converted} IS NULL",
                            f"cannot be cast to {selection.cast} ({CAST_TYPES[selection.cast]})",
                        )
                    )
                    expression = converted
                else:
                    raise ctx.error(
                        f"casting column {name!r} from {pg_type} to {selection.cast} is not pushed down to "
                        "PostgreSQL (its result could differ from the ETL engine's); set the pipeline's "
                        "engine to 'etl', or cast to text first"
                    )
        items.append((expression, selection.rename or name))
    if config.keep_other_columns:
        items.extend((quote_ident(name), name) for name, _ in columns if name not in listed)
    check_distinct_outputs((output for _, output in items), owner=ctx.owner)
    _check_bad_values(
        ctx,
        relation,
        checks,
        on_error=config.on_error,
        fix="Fix the data upstream, choose another type, or set on_error to 'null' to turn such values "
        "into nulls",
    )
    select = ", ".join(f"{expression} AS {quote_ident(output)}" for expression, output in items)
    return f"SELECT {select} FROM {relation} AS s"


@register_step("filter_rows")
def build_filter_rows(ctx: EltContext, relation: str, columns: Columns) -> str:
    import sqlglot
    from sqlglot.errors import SqlglotError

    from airflow_provider_logidata.engine.conditions import validate_condition

    config = ctx.config
    assert isinstance(config, FilterRowsConfig)
    condition = validate_condition(config.condition, columns, owner=ctx.owner)
    try:
        translated = sqlglot.transpile(condition, read="duckdb", write="postgres")[0]
    except SqlglotError as error:
        raise ctx.error(
            f"cannot translate the condition {config.condition!r} to PostgreSQL: {error}"
        ) from None
    check_pushed(ctx, translated, f"the condition {config.condition!r}")
    select = f"SELECT * FROM {relation} AS s WHERE ({translated})"
    try:
        with read_only_step(ctx.con):
            ctx.con.execute(f"SELECT * FROM ({select}) AS q LIMIT 0")  # type: ignore[call-overload]
    except psycopg.Error as error:
        raise ctx.error(
            f"PostgreSQL rejects the condition {config.condition!r} (as {translated!r}): "
            f"{pg_error(error)}; fix the condition, or set the pipeline's engine to 'etl'"
        ) from None
    return select


@register_step("deduplicate")
def build_deduplicate(ctx: EltContext, relation: str, columns: Columns) -> str:
    config = ctx.config
    assert isinstance(config, DeduplicateConfig)
    if config.columns:
        keys: list[str] = []
        for name in config.columns:
            resolved, _ = ctx.column(name, columns)
            if resolved not in keys:
                keys.append(resolved)
    else:
        keys = [name for name, _ in columns]
    order = quote_ident(unique_name("__logidata_row", columns))
    pick = "min" if config.keep == "first" else "max"
    group = ", ".join(quote_ident(key) for key in keys)
    outputs = ", ".join(quote_ident(name) for name, _ in columns)
    return (
        f"WITH numbered AS MATERIALIZED (SELECT *, row_number() OVER () AS {order} FROM {relation} AS s) "
        f"SELECT {outputs} FROM numbered "
        f"WHERE {order} IN (SELECT {pick}({order}) FROM numbered GROUP BY {group}) ORDER BY {order}"
    )


def _fill_value_sql(ctx: EltContext, relation: str, fill: Fill, name: str, pg_type: str) -> str:
    column = quote_ident(name)
    if fill.strategy == "constant":
        value = fill.value
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if is_text(pg_type):
            return f"CAST({quote_literal(text)} AS {pg_type})"
        literal = ctx.try_cast(quote_literal(text), pg_type)
        if ctx.rows(f"SELECT {literal} IS NULL")[0][0]:
            raise ctx.error(
                f"value {value!r} does not fit column {name!r} of type {pg_type}; use a value of that type"
            )
        return literal
    if fill.strategy == "mean" and not is_numeric(pg_type):
        raise ctx.error(f"strategy 'mean' needs a numeric column; {name!r} is {pg_type}; use 'mode'")
    if fill.strategy == "median" and not is_numeric(pg_type):
        if is_temporal(pg_type):
            raise ctx.error(
                f"strategy 'median' on the date column {name!r} is not pushed down to PostgreSQL; set the "
                "pipeline's engine to 'etl'"
            )
        raise ctx.error(
            f"strategy 'median' needs a numeric or date column; {name!r} is {pg_type}; use 'mode'"
        )
    if fill.strategy == "mode":
        ordered = collated(column, pg_type)
        return (
            f"(SELECT {column} FROM {relation} AS s WHERE {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY count(*) DESC, {ordered} LIMIT 1)"
        )
    if fill.strategy == "mean":
        statistic = f"avg({column})::double precision"
    elif fill.strategy == "median" and base_type(pg_type) in ("numeric", "decimal"):
        # DuckDB's median of a DECIMAL: the mean of the middle values, truncated to the column's scale.
        scale = pg_type.partition(",")[2].rstrip(") ")
        if not scale.isdigit():
            raise ctx.error(
                f"strategy 'median' on the numeric column {name!r} without a scale is not pushed down to "
                "PostgreSQL; set the pipeline's engine to 'etl'"
            )
        middle = (
            f"SELECT {column} AS v FROM {relation} AS s WHERE {column} IS NOT NULL ORDER BY {column} "
            f"LIMIT (SELECT 2 - count({column}) % 2 FROM {relation} AS s) "
            f"OFFSET (SELECT (count({column}) - 1) / 2 FROM {relation} AS s)"
        )
        return f"(SELECT CAST(trunc(avg(m.v), {scale}) AS {pg_type}) FROM ({middle}) AS m)"
    elif fill.strategy == "median":
        statistic = f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}::double precision)"
    else:
        statistic = f"{fill.strategy}({collated(column, pg_type)})"
    return f"(SELECT CAST({statistic} AS {pg_type}) FROM {relation} AS s)"


@register_step("fill_nulls")
def build_fill_nulls(ctx: EltContext, relation: str, columns: Columns) -> str:
    config = ctx.config
    assert isinstance(config, FillNullsConfig)
    per_column: dict[str, list[str]] = {}
    for fill in config.fills:
        name, pg_type = ctx.column(fill.column, columns)
        per_column.setdefault(name, []).append(_fill_value_sql(ctx, relation, fill, name, pg_type))
    items = [
        f"coalesce({quote_ident(name)}, {', '.join(per_column[name])}) AS {quote_ident(name)}"
        if name in per_column
        else quote_ident(name)
        for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


def clean_text_expression(column: str, config: CleanTextConfig, collation: str) -> str:
    expression = quote_ident(column)
    if config.trim:
        pattern = f"^{WS_CLASS}+|{WS_CLASS}+$"
        expression = f"regexp_replace({expression}, {quote_literal(pattern)}, '', 'g')"
    if config.collapse_spaces:
        expression = f"regexp_replace({expression}, {quote_literal(WS_CLASS + '+')}, ' ', 'g')"
    if config.case == "lower":
        expression = f"lower({expression}{collation})"
    elif config.case == "upper":
        expression = f"upper({expression}{collation})"
    elif config.case == "title":
        tokens = quote_literal(f"{WS_CLASS}+|{NOT_WS_CLASS}+")
        expression = (
            f"(SELECT CASE WHEN v IS NULL THEN NULL ELSE coalesce(("
            f"SELECT string_agg(upper(left(m[1], 1){collation}) || lower(substr(m[1], 2){collation}), '' "
            f"ORDER BY o) FROM regexp_matches(v, {tokens}, 'g') WITH ORDINALITY AS t(m, o)), '') END "
            f"FROM (SELECT {expression} AS v) AS x)"
        )
    if config.empty_as_null:
        expression = f"nullif({expression}, '')"
    return expression


@register_step("clean_text")
def build_clean_text(ctx: EltContext, relation: str, columns: Columns) -> str:
    config = ctx.config
    assert isinstance(config, CleanTextConfig)
    if config.columns is None:
        targets = [name for name, pg_type in columns if is_text(pg_type)]
    else:
        targets = []
        for requested in config.columns:
            name, pg_type = ctx.column(requested, columns)
            if not is_text(pg_type):
                raise ctx.error(
                    f"column {name!r} is {pg_type}, not text; remove it from columns or cast it to "
                    "string first (select_columns)"
                )
            if name not in targets:
                targets.append(name)
    if not targets:
        ctx.log.warning(f"{ctx.owner}: the input has no text columns; rows pass unchanged")
        return f"SELECT * FROM {relation} AS s"
    collation = case_collation(ctx.con) if config.case != "keep" else ""
    items = [
        f"{clean_text_expression(name, config, collation)} AS {quote_ident(name)}"
        if name in targets
        else quote_ident(name)
        for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


@register_step("sort")
def build_sort(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Order by the keys; ties keep input order (a row number breaks them: a stable sort)."""
    config = ctx.config
    assert isinstance(config, SortConfig)
    row = quote_ident(unique_name("__logidata_row", columns))
    keys = []
    for key in config.by:
        name, pg_type = ctx.column(key.column, columns)
        direction = "DESC" if key.descending else "ASC"
        keys.append(f"{collated(quote_ident(name), pg_type)} {direction} NULLS {key.nulls.upper()}")
    outputs = ", ".join(quote_ident(name) for name, _ in columns)
    return (
        f"SELECT {outputs} FROM (SELECT *, row_number() OVER () AS {row} FROM {relation} AS s) AS n "
        f"ORDER BY {', '.join(keys)}, {row}"
    )
