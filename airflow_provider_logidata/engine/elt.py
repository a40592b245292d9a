"""ELT pushdown: a ``source.postgres -> transforms -> destination.postgres`` path run inside PostgreSQL.

No row leaves the database. In ONE transaction on the destination's connection:

1. the source's SELECT (table or query, its ``columns`` and ``data_interval`` filter; types normalised as
   the ETL source does: unconstrained numeric -> numeric(38,9), types the ETL source reads as text -> text,
   character(n) -> its padded text);
2. each transform compiles to a SELECT over the previous step (nested subqueries), mirroring the DuckDB
   builder of ``engine.transforms``; column types come from ``SELECT * FROM (<sql>) q LIMIT 0``, and the
   builders' pre-checks (failing casts with counts and examples, unknown columns) run as queries;
3. the ETL destination's own steps (``engine.postgres``: ``prepare_target``, ``open_destination``,
   ``finalize``) with ``INSERT INTO <where the mode writes> SELECT ...`` in place of its COPY: append goes
   straight into the table, replace into a new table swapped in (or a temporary table), merge into a
   temporary table.

aggregate, derive_column and map_values are typed by the ETL engine's own DuckDB builder, run over an
empty input of the same types (see :func:`duck_types`), so both engines create the same table.

Any error rolls everything back: the destination is untouched. Identifiers go through ``quote_ident``,
texts through ``quote_literal``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql

from airflow_provider_logidata.engine import pg_contract
from airflow_provider_logidata.engine import postgres as pgengine
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.incremental_load import replace_interval_elt
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.sql import (
    check_distinct_outputs,
    quote_ident,
    quote_literal,
    resolve_column,
    unique_name,
)
from airflow_provider_logidata.modules.catalog import (
    AggregateConfig,
    DeriveColumnConfig,
    MapValuesConfig,
    SortConfig,
)
from airflow_provider_logidata.modules.postgres import (
    PostgresDestinationConfig,
    PostgresSourceConfig,
    check_select,
)
from airflow_provider_logidata.modules.transforms import (
    CleanTextConfig,
    DeduplicateConfig,
    FillNullsConfig,
    FilterRowsConfig,
    SelectColumnsConfig,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from airflow_provider_logidata.modules.base import ModuleConfig
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
_INTEGER_TYPES = ("smallint", "integer", "bigint")
_FLOAT_TYPES = ("real", "double precision")
_TEXT_TYPES = ("text", "character varying", "character", "varchar", "bpchar")


def _base(type_sql: str) -> str:
    return type_sql.split("(")[0].strip().lower()


def is_text(type_sql: str) -> bool:
    return _base(type_sql) in _TEXT_TYPES


def is_integer(type_sql: str) -> bool:
    return _base(type_sql) in _INTEGER_TYPES


def is_numeric(type_sql: str) -> bool:
    base = _base(type_sql)
    return base in _INTEGER_TYPES or base in _FLOAT_TYPES or base in ("numeric", "decimal")


def is_temporal(type_sql: str) -> bool:
    return _base(type_sql) in ("date", "timestamp without time zone", "timestamp with time zone", "timestamp")


BPCHAR = 1042  # character(n)
Columns = list[tuple[str, str]]  # (name, PostgreSQL type as format_type writes it)


@dataclass
class Described:
    name: str
    oid: int
    type_sql: str
    precision: int | None
    scale: int | None


_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "varchar": "character varying",
    "bpchar": "character",
}


def _type_name(display: str) -> str:
    """psycopg's short type name (int4, numeric(6,2)) as SQL spells it (integer, numeric(6,2))."""
    base, paren, rest = display.partition("(")
    name = _TYPE_NAMES.get(base.strip(), base.strip())
    for head in ("timestamp ", "time "):  # timestamp(3) with time zone: the precision before the zone
        if paren and name.startswith(head):
            return f"{head.strip()}({rest.rstrip(')')}) {name.removeprefix(head)}"
    return name + paren + rest


@contextlib.contextmanager
def read_only_step(con: psycopg.Connection[Any]) -> Iterator[None]:
    """A savepoint in which the transaction is read-only, always rolled back (fetch results inside).

    The user's SQL (the source query, conditions, expressions) is described, pre-checked and, in a
    preview, sampled here: even inside the ELT task's read-write transaction (it must write the
    destination, and builders create ``pg_temp`` helper functions) such a step can write nothing, and
    whatever it did is undone. The final ``INSERT ... SELECT`` of a run cannot be read-only; the user's
    SQL in it passed ``security.pg_sql``.
    """
    with con.transaction(force_rollback=True):
        con.execute("SET LOCAL transaction_read_only = on")
        yield


def describe(con: psycopg.Connection[Any], select: str, *, owner: str) -> list[Described]:
    """Columns of a SELECT without running it (``LIMIT 0``), with ``format_type`` names."""
    with con.cursor() as cur:
        try:
            with read_only_step(con):
                cur.execute(pgsql.SQL("SELECT * FROM (\n{}\n) AS q LIMIT 0").format(pgsql.SQL(select)))  # type: ignore[arg-type]
        except psycopg.Error as error:
            raise LogiDataTaskError(
                f"{owner}: PostgreSQL rejects the step: {pgengine._pg_error(error)}"
            ) from None
        assert cur.description is not None
        return [
            Described(c.name, c.type_code, _type_name(c.type_display or "text"), c.precision, c.scale)
            for c in cur.description
        ]


def check_pushed(ctx: EltContext, sql_text: str, what: str) -> None:
    """The PostgreSQL form of a user's condition or expression, checked before it is put into SQL."""
    from airflow_provider_logidata.security.pg_sql import check_pg_sql

    try:
        check_pg_sql(sql_text, kind="expression", dialect="postgres")
    except ValueError as error:
        raise ctx.error(f"{what}: {error}") from None


# --- transform builders -----------------------------------------------------------------------------


@dataclass
class EltContext:
    con: psycopg.Connection[Any]
    module: str
    node_id: str
    config: ModuleConfig
    log: TaskLog
    helpers: dict[str, str] = field(default_factory=dict)  # try-cast function name -> its CREATE
    inputs: list[Described] = field(default_factory=list)  # the step's input columns, fully typed

    @property
    def owner(self) -> str:
        return node_label(self.module, self.node_id)

    def error(self, message: str) -> LogiDataTaskError:
        return LogiDataTaskError(f"{self.owner}: {message}")

    def column(self, name: str, columns: Columns) -> tuple[str, str]:
        return resolve_column(name, columns, owner=self.owner)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        try:
            with read_only_step(self.con):  # a failing pre-query does not poison the load either
                return list(self.con.execute(query))  # type: ignore[call-overload]
        except psycopg.Error as error:
            raise self.error(f"PostgreSQL rejects the step: {pgengine._pg_error(error)}") from None

    def try_cast(self, text_sql: str, target: str) -> str:
        """SQL converting text to ``target`` as DuckDB's TRY_CAST does, null when it cannot."""
        base = _base(target)
        value = "v"
        guard = None
        if base in _INTEGER_TYPES:
            value = "round(v::numeric)"  # DuckDB accepts '3.5' and rounds it (half away from zero)
        elif base == "date":
            guard = r"^\s*-?\d{1,}-\d{1,2}-\d{1,2}\s*$"
        elif base in ("timestamp", "timestamp without time zone"):
            guard = r"^\s*-?\d{1,}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?)?\s*$"
        name = "logidata_try_" + hashlib.sha1(target.encode()).hexdigest()[:12]
        if name not in self.helpers:
            body = f"RETURN ({value})::{target};"
            if guard is not None:
                body = f"IF v !~ {quote_literal(guard)} THEN RETURN NULL; END IF; " + body
            create = (
                f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v text) RETURNS {target} LANGUAGE plpgsql "
                f"IMMUTABLE AS $logidata$ BEGIN {body} EXCEPTION WHEN others THEN RETURN NULL; END "
                "$logidata$"
            )
            self.con.execute(create)  # type: ignore[call-overload]
            self.helpers[name] = create
        return f"pg_temp.{name}({text_sql})"


EltBuilder = "Callable[[EltContext, str, Columns], str]"
ELT_TRANSFORMS: dict[str, Callable[[EltContext, str, Columns], str]] = {}


def _register(module: str) -> Callable[[Callable[[EltContext, str, Columns], str]], Any]:
    def decorate(builder: Callable[[EltContext, str, Columns], str]) -> Any:
        ELT_TRANSFORMS[module] = builder
        return builder

    return decorate


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
        _base(pg_type) in ("timestamp", "timestamp without time zone")
        and target.startswith("timestamp without")
    )


@_register("select_columns")
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
                            or _base(pg_type) in ("numeric", "date", "boolean")
                        )
                    )
                    or (selection.cast in ("integer", "float", "decimal") and is_integer(pg_type))
                    or (selection.cast in ("float", "decimal") and _base(pg_type) == "numeric")
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
                            f"cannot be cast to {selection.cast} ({CAST_DUCK[selection.cast]})",
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


CAST_DUCK = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38,9)",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@_register("filter_rows")
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
            f"{pgengine._pg_error(error)}; fix the condition, or set the pipeline's engine to 'etl'"
        ) from None
    return select


@_register("deduplicate")
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


def _collated(column: str, pg_type: str) -> str:
    """DuckDB compares text by code point: PostgreSQL's "C" collation."""
    return f'{column} COLLATE "C"' if is_text(pg_type) else column


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
        ordered = _collated(column, pg_type)
        return (
            f"(SELECT {column} FROM {relation} AS s WHERE {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY count(*) DESC, {ordered} LIMIT 1)"
        )
    if fill.strategy == "mean":
        statistic = f"avg({column})::double precision"
    elif fill.strategy == "median" and _base(pg_type) in ("numeric", "decimal"):
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
        statistic = f"{fill.strategy}({_collated(column, pg_type)})"
    return f"(SELECT CAST({statistic} AS {pg_type}) FROM {relation} AS s)"


@_register("fill_nulls")
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


def _case_collation(con: psycopg.Connection[Any]) -> str:
    """An ICU collation for Unicode-aware lower/upper (libc's C locale changes ASCII letters only)."""
    row = con.execute("SELECT collname FROM pg_collation WHERE collname = 'und-x-icu'").fetchone()
    return ' COLLATE "und-x-icu"' if row else ""


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


@_register("clean_text")
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
    collation = _case_collation(ctx.con) if config.case != "keep" else ""
    items = [
        f"{clean_text_expression(name, config, collation)} AS {quote_ident(name)}"
        if name in targets
        else quote_ident(name)
        for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


@_register("sort")
def build_sort(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Order by the keys; ties keep input order (a row number breaks them: a stable sort)."""
    config = ctx.config
    assert isinstance(config, SortConfig)
    row = quote_ident(unique_name("__logidata_row", columns))
    keys = []
    for key in config.by:
        name, pg_type = ctx.column(key.column, columns)
        direction = "DESC" if key.descending else "ASC"
        keys.append(f"{_collated(quote_ident(name), pg_type)} {direction} NULLS {key.nulls.upper()}")
    outputs = ", ".join(quote_ident(name) for name, _ in columns)
    return (
        f"SELECT {outputs} FROM (SELECT *, row_number() OVER () AS {row} FROM {relation} AS s) AS n "
        f"ORDER BY {', '.join(keys)}, {row}"
    )


# --- builders typed by the ETL engine ----------------------------------------------------------------
# aggregate, derive_column and map_values produce types by DuckDB's rules (a sum of DECIMAL(6,2) is
# DECIMAL(38,2), a mapping's result type comes from its targets). Rather than re-deriving those rules, the
# step's DuckDB builder is run over an empty input of the same Arrow types (no rows, so only its checks and
# binding run) and the PostgreSQL SELECT is cast to the types it reports: the table ETL would create, and
# DuckDB's own messages for a config it rejects.


def duck_types(ctx: EltContext) -> Columns:
    """Output (name, PostgreSQL type) of the step as the ETL engine's DuckDB builder types it."""
    import airflow_provider_logidata.engine.catalog  # noqa: F401  (registers the catalog builders)
    from airflow_provider_logidata.engine import duck
    from airflow_provider_logidata.engine.transforms import TRANSFORMS, TransformContext

    schema = _arrow_schema(ctx.inputs)
    with duck.connect() as con:
        con.register("logidata_empty_input", schema.empty_table())
        con.execute("CREATE VIEW input_0 AS SELECT * FROM logidata_empty_input")
        duck_ctx = TransformContext(
            con=con, module=ctx.module, node_id=ctx.node_id, config=ctx.config, log=_Quiet()
        )
        select = TRANSFORMS[ctx.module](duck_ctx, "input_0", duck.describe(con, "input_0"))
        result = con.execute(f"SELECT * FROM ({select}) AS q LIMIT 0")
        table = result.to_arrow_table() if result is not None else None
        assert table is not None
        output = table.schema
    return [(f.name, pgengine.pg_type_for(f.type)) for f in output]


class _Quiet:
    """Drops the DuckDB builder's messages: the PostgreSQL builder logs its own."""

    def info(self, msg: str, /) -> None:
        return None

    def warning(self, msg: str, /) -> None:
        return None


def cast_to(ctx: EltContext, select: str, types: Columns) -> str:
    """``select`` with every output column cast to ``types`` (same names, same order)."""
    produced = [c.name for c in describe(ctx.con, select, owner=ctx.owner)]
    if produced != [name for name, _ in types]:
        raise ctx.error(
            f"the PostgreSQL step gives columns {produced}, the ETL engine {[n for n, _ in types]}; set the "
            "pipeline's engine to 'etl' and report this"
        )
    items = ", ".join(f"CAST(q.{quote_ident(n)} AS {t}) AS {quote_ident(n)}" for n, t in types)
    return f"SELECT {items} FROM ({select}) AS q"


@_register("aggregate")
def build_aggregate(ctx: EltContext, relation: str, columns: Columns) -> str:
    """GROUP BY the keys, sorted by them (text by code point, nulls last), as the DuckDB builder."""
    config = ctx.config
    assert isinstance(config, AggregateConfig)
    types = duck_types(ctx)
    keys = [ctx.column(name, columns)[0] for name in config.group_by]
    items = [quote_ident(key) for key in keys]
    for aggregation in config.aggregations:
        if aggregation.column is None:
            expression = "count(*)"
        else:
            name, pg_type = ctx.column(aggregation.column, columns)
            column = quote_ident(name)
            function = aggregation.function
            boolean = _base(pg_type) == "boolean"
            if boolean and function in ("sum", "avg"):
                column = f"CAST({column} AS integer)"
            if function == "count":
                expression = f"count({column})"
            elif function == "count_distinct":
                expression = f"count(DISTINCT {column})"
            elif function in ("min", "max") and boolean:
                expression = f"{'bool_and' if function == 'min' else 'bool_or'}({column})"
            elif function in ("min", "max"):
                expression = f"{function}({_collated(column, pg_type)})"
            else:
                expression = f"{function}({column})"
        items.append(f"{expression} AS {quote_ident(aggregation.output)}")
    select = f"SELECT {', '.join(items)} FROM {relation} AS s"
    if keys:
        group = ", ".join(quote_ident(key) for key in keys)
        order = ", ".join(f"{_collated(quote_ident(key), dict(columns)[key])} ASC NULLS LAST" for key in keys)
        select += f" GROUP BY {group} ORDER BY {order}"
    return cast_to(ctx, select, types)


def _to_postgres(ctx: EltContext, expression: str, what: str) -> str:
    """DuckDB SQL as PostgreSQL SQL; lower/upper get the ICU collation (Unicode case, as DuckDB)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(expression, read="duckdb")
        collation = _case_collation(ctx.con)
        if collation:
            icu = exp.Identifier(this="und-x-icu", quoted=True)
            for node in list(tree.find_all(exp.Lower, exp.Upper)):
                node.set("this", exp.Collate(this=node.this, expression=icu.copy()))
        return tree.sql(dialect="postgres")
    except SqlglotError as error:
        raise ctx.error(
            f"cannot translate {what} to PostgreSQL: {error}; set the pipeline's engine to 'etl'"
        ) from None


@_register("derive_column")
def build_derive_column(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Each expression (checked as the ETL engine checks it) translated to PostgreSQL by sqlglot."""
    from airflow_provider_logidata.engine.catalog import find_column
    from airflow_provider_logidata.engine.conditions import validate_expression

    config = ctx.config
    assert isinstance(config, DeriveColumnConfig)
    types = duck_types(ctx)
    current, current_columns = relation, list(columns)
    select = f"SELECT * FROM {relation} AS s"
    for derived in config.columns:
        checked = validate_expression(
            derived.expression,
            current_columns,
            owner=f"{ctx.owner}, column {derived.name!r}",
            fix="write one SQL expression over the input columns, e.g. price * quantity",
            aggregates=False,
        )
        what = f"the expression of column {derived.name!r} ({derived.expression!r})"
        expression = _to_postgres(ctx, checked, what)
        check_pushed(ctx, expression, what)
        existing = find_column(derived.name, current_columns, owner=ctx.owner)
        if existing is None:
            items = f"s.*, ({expression}) AS {quote_ident(derived.name)}"
        else:
            items = ", ".join(
                f"({expression}) AS {quote_ident(derived.name)}" if name == existing[0] else quote_ident(name)
                for name, _ in current_columns
            )
        select = f"SELECT {items} FROM {current} AS s"
        try:
            current_columns = [(c.name, c.type_sql) for c in describe(ctx.con, select, owner=ctx.owner)]
        except LogiDataTaskError as error:
            raise ctx.error(
                f"PostgreSQL rejects {what} (as {expression!r}): {str(error).split(': ', 2)[-1]}; fix the "
                "expression, or set the pipeline's engine to 'etl'"
            ) from None
        current = f"({select})"
    return cast_to(ctx, select, types)


# Up to this many entries a mapping is a CASE; larger ones are one jsonb lookup per row (a CASE is
# evaluated entry by entry, a jsonb object is searched by key).
CASE_MAPPING_LIMIT = 64


def _json_lookup(
    ctx: EltContext,
    keys: list[str],
    targets: list[Any],
    column: str,
    pg_type: str,
    result: str,
    otherwise: str,
) -> str:
    """The mapping as a jsonb object keyed by each typed key's text (``'01'`` of a number is ``1``).

    Keys equal once typed keep their first entry, as in a CASE; the column's value is looked up by its
    text, which PostgreSQL writes the same way for equal values of one type.
    """
    import json

    from airflow_provider_logidata.engine.catalog import value_text

    texts = [str(text) for (text,) in ctx.rows(f"SELECT CAST(unnest(ARRAY[{', '.join(keys)}]) AS text)")]
    mapping: dict[str, str | None] = {}
    for text, target in zip(texts, targets, strict=True):
        mapping.setdefault(text, None if target is None else value_text(target))
    found = f"CAST({quote_literal(json.dumps(mapping, ensure_ascii=False))} AS jsonb)"
    key = f"CAST({column} AS text)"
    return f"CASE WHEN {found} ? {key} THEN CAST({found} ->> {key} AS {result}) ELSE {otherwise} END"


@_register("map_values")
def build_map_values(ctx: EltContext, relation: str, columns: Columns) -> str:
    """A CASE over the mapping, keys read in the column's type, results in the ETL engine's type."""
    from airflow_provider_logidata.engine.catalog import find_column, value_text

    config = ctx.config
    assert isinstance(config, MapValuesConfig)
    types = duck_types(ctx)  # also DuckDB's checks of the keys and targets, with its messages
    name, pg_type = ctx.column(config.column, columns)
    column = quote_ident(name)
    output = config.target_column or name
    result = next(t for n, t in types if n.lower() == output.lower())
    texts = [value_text(key) for key in config.mapping]
    if is_text(pg_type):
        keys = [quote_literal(text) for text in texts]
    else:
        keys = [f"CAST({quote_literal(text)} AS {pg_type})" for text in texts]

    def literal(value: Any) -> str:
        if value is None:
            return f"CAST(NULL AS {result})"
        return f"CAST({quote_literal(value_text(value))} AS {result})"

    if config.default == "keep":
        otherwise = f"CAST({column} AS {result})"
    elif config.default == "null":
        otherwise = f"CAST(NULL AS {result})"
    else:
        otherwise = literal(config.default_value)
    if len(keys) <= CASE_MAPPING_LIMIT:
        whens = " ".join(
            f"WHEN {key} THEN {literal(target)}"
            for key, target in zip(keys, config.mapping.values(), strict=True)
        )
        expression = f"CASE {column} {whens} ELSE {otherwise} END"
    else:
        targets = list(config.mapping.values())
        expression = _json_lookup(ctx, keys, targets, column, pg_type, result, otherwise)
    target = (
        find_column(config.target_column, columns, owner=ctx.owner)
        if config.target_column
        else (name, pg_type)
    )
    if target is None:
        select = f"SELECT s.*, {expression} AS {quote_ident(output)} FROM {relation} AS s"
    else:
        items = ", ".join(
            f"{expression} AS {quote_ident(n)}" if n == target[0] else quote_ident(n) for n, _ in columns
        )
        select = f"SELECT {items} FROM {relation} AS s"
    return cast_to(ctx, select, types)


# --- the source -------------------------------------------------------------------------------------


def source_select(
    con: psycopg.Connection[Any],
    config: PostgresSourceConfig,
    node_id: str,
    log: TaskLog,
    interval: tuple[dt.datetime, dt.datetime] | None,
) -> str:
    """The source's SELECT with the ETL source's columns, types and data_interval filter."""
    owner = node_label(pgengine.SOURCE, node_id)
    if config.table is not None:
        base_sql, described = pgengine._relation(con, config, owner)
        base = base_sql.as_string(con)
    else:
        assert config.query is not None
        try:
            base = check_select(config.query, writable=True)  # it runs in the task's INSERT ... SELECT
        except ValueError as error:
            raise LogiDataTaskError(f"{owner}: {error}") from None
        described = "query"
    available = describe(con, base, owner=owner)
    names = [c.name for c in available]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise LogiDataTaskError(
            f"{owner}: the query returns several columns named {', '.join(map(repr, duplicates))}; "
            "give each output column a distinct name (AS alias)"
        )
    by_name = {c.name: c for c in available}
    selected = available
    if config.columns:
        missing = [n for n in config.columns if n not in by_name]
        if missing:
            raise LogiDataTaskError(
                f"{owner}: column(s) {', '.join(map(repr, missing))} not in {described}; available "
                f"columns: {', '.join(names) or '(none)'}. Fix columns in the node's config."
            )
        selected = [by_name[n] for n in config.columns]
    items = []
    for column in selected:
        ref = f"q.{quote_ident(column.name)}"
        if column.oid == pgengine.NUMERIC:
            planned = pgengine.plan_column(
                column.name, column.oid, column.type_sql, column.precision, column.scale
            )
            if planned.arrow_type == pgengine.DEFAULT_DECIMAL:
                ref = f"{ref}::numeric(38,9)"
        elif column.oid == pgengine.OID:
            ref = f"{ref}::bigint"
        elif column.oid == BPCHAR:
            # The ETL source reads char(n) as its text form, padded to n; a cast to text would drop the
            # padding (ETL loads 'ab   ' into a text column, ELT 'ab'). The output function keeps it.
            ref = f"textin(bpcharout({ref}))"
        elif column.oid not in pgengine._FIXED_TYPES and not is_text(column.type_sql):
            ref = f"{ref}::text"  # the ETL source reads json, uuid, arrays, ... as their text
        items.append(f"{ref} AS {quote_ident(column.name)}")
    where = ""
    spec = config.incremental
    if spec is not None:
        found = next((c for c in selected if c.name == spec.column), None)
        if found is None:
            raise LogiDataTaskError(
                f"{owner}: incremental column {spec.column!r} is not among the columns read "
                f"({', '.join(c.name for c in selected) or 'none'}); add it to columns or the query, or fix "
                "incremental.column"
            )
        column = found
        if spec.mode != "data_interval":
            raise LogiDataTaskError(
                f"{owner}: incremental mode {spec.mode!r} is not pushed down; use engine etl"
            )
        if column.oid not in pgengine._TEMPORAL_OIDS:
            raise LogiDataTaskError(
                f"{owner}: incremental column {column.name!r} is {column.type_sql}; mode 'data_interval' "
                "needs a date, timestamp or timestamptz column. Pick such a column or use mode 'cursor'."
            )
        if interval is None:
            raise LogiDataTaskError(f"{owner}: mode 'data_interval' needs the run's data interval")
        start, end = interval
        ref = f"q.{quote_ident(column.name)}"
        where = (
            f" WHERE {ref} >= CAST({quote_literal(start.isoformat())} AS timestamptz) "
            f"AND {ref} < CAST({quote_literal(end.isoformat())} AS timestamptz)"
        )
        log.info(f"{node_id}: reading {column.name} in [{start.isoformat()}, {end.isoformat()})")
    return f"SELECT {', '.join(items)} FROM (\n{base}\n) AS q{where}"


# --- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EltStep:
    node_id: str
    module: str
    config: ModuleConfig


def run_elt(
    source_id: str,
    source: PostgresSourceConfig,
    steps: list[EltStep],
    destination_id: str,
    destination: PostgresDestinationConfig,
    *,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    log: TaskLog | None = None,
) -> dict[str, Any]:
    """Run the whole path in one transaction; returns ``{"uri", "rows", "mode", "engine", "sql"}``."""
    logger = get_log(log)
    owner = node_label(pgengine.DESTINATION, destination_id)
    if source.conn_id != destination.conn_id:
        raise LogiDataTaskError(
            f"{owner}: ELT needs source and destination on one connection ({source.conn_id!r} vs "
            f"{destination.conn_id!r})"
        )
    target = f"{destination.schema_name}.{destination.table}"
    started = time.monotonic()
    with pgengine.connect(destination.conn_id, owner=owner, node_id=destination_id) as con:
        pgengine.warn_about_role(con, destination.conn_id, owner, logger)
        loaded: list[tuple[str, str, str]] = []
        try:
            with con.transaction():
                # Not read-only (it writes the destination); the source's query and every pushed-down
                # expression passed security.pg_sql, and each look at them runs in a read_only_step.
                pgengine.confine(con, seconds=pgengine.statement_timeout_seconds(), read_only=False)
                select = source_select(con, source, source_id, logger, interval)
                helpers: dict[str, str] = {}
                for step in steps:
                    inputs = describe(con, select, owner=owner)
                    columns = [(c.name, c.type_sql) for c in inputs]
                    builder = ELT_TRANSFORMS.get(step.module)
                    if builder is None:
                        raise LogiDataTaskError(
                            f"{node_label(step.module, step.node_id)}: no PostgreSQL builder; set engine etl"
                        )
                    ctx = EltContext(con, step.module, step.node_id, step.config, logger, helpers, inputs)
                    select = builder(ctx, f"(\n{select}\n)", columns)
                final = describe(con, select, owner=owner)
                text = "\n".join([*helpers.values(), select])
                logger.info(f"{destination_id}: engine elt: running in PostgreSQL:\n{text}")
                # append over a data interval replaces it (engine.incremental_load), as ETL does
                replace_interval_elt(
                    con,
                    source,
                    source_id,
                    interval,
                    destination,
                    [c.name for c in final],
                    owner=owner,
                    node_id=destination_id,
                    log=logger,
                )
                rows, how = _load(con, destination, final, select, owner, destination_id, logger, loaded)
        except psycopg.Error as error:
            confined = pgengine.confinement_error(error, owner, "the pushed-down path")
            if confined is not None:
                raise LogiDataTaskError(f"{confined}. Nothing was written: {target} is unchanged.") from None
            raise pgengine._load_error(error, owner=owner, target=target, loaded=loaded) from None
    seconds = time.monotonic() - started
    logger.info(
        f"{destination_id}: engine elt: loaded {rows} rows into {target} ({destination.mode}{how}) in "
        f"{seconds:.2f} s, no rows left the database"
    )
    return {
        "uri": f"postgresql://{destination.conn_id}/{target}",
        "rows": rows,
        "mode": destination.mode,
        "engine": "elt",
        "sql": text,
    }


# Steps whose output has exactly one row per input row: through them the loaded row count is known.
ROW_PRESERVING = frozenset(
    {"select_columns", "clean_text", "fill_nulls", "sort", "derive_column", "map_values"}
)


def elt_metrics(
    source_id: str, steps: list[EltStep], destination_id: str, rows: int, seconds: float
) -> dict[str, Any]:
    """The run-metrics XCom of an ELT task (``docs/builder-api.md``): one entry per pushed node.

    One statement runs the whole path, so only the destination's rows and the task's seconds are
    measured. Row counts are filled in backwards from the destination through row-preserving steps (a
    filter, deduplicate or aggregate cuts the chain: above it the counts are unknown, null); seconds are
    null for every node but the destination.
    """
    nodes: dict[str, dict[str, Any]] = {
        destination_id: {
            "module": pgengine.DESTINATION,
            "rows_in": rows,
            "rows_out": rows,
            "seconds": round(seconds, 3),
        }
    }
    known: int | None = rows
    for step in reversed(steps):
        rows_out = known
        known = known if step.module in ROW_PRESERVING else None
        nodes[step.node_id] = {"module": step.module, "rows_in": known, "rows_out": rows_out, "seconds": None}
    nodes[source_id] = {"module": pgengine.SOURCE, "rows_in": None, "rows_out": known, "seconds": None}
    ordered = [source_id, *(step.node_id for step in steps), destination_id]
    return {"nodes": {node_id: nodes[node_id] for node_id in ordered}}


def _arrow_schema(final: list[Described]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(c.name, pgengine.plan_column(c.name, c.oid, c.type_sql, c.precision, c.scale).arrow_type)
            for c in final
        ]
    )


def _load(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    final: list[Described],
    select: str,
    owner: str,
    node_id: str,
    log: TaskLog,
    loaded: list[tuple[str, str, str]],
) -> tuple[int, str]:
    """The ETL destination's steps (``engine.postgres``) with an ``INSERT ... SELECT`` in place of COPY.

    The SELECT's own PostgreSQL types (with their modifiers) meet the table's through the same type
    contract as ETL's (``engine.pg_types``): each column is converted by its pair's rule, and a value that
    would change stops the insert (``write_converted``): refused, or its column widened under evolve.
    """
    pgengine.check_input_names([c.name for c in final], owner)
    incoming = pg_contract.QueryRows(_incoming_types(con, final), select)
    prepared = pgengine.prepare_target(
        con, config, _arrow_schema(final), pgengine.Target.of(config), owner, node_id, log, loaded, incoming
    )
    relation = incoming.relation([c.name for c in final])
    into, rows = pgengine.write_converted(con, config, prepared, relation, owner, node_id, log, loaded)
    how = pgengine.finalize(con, config, prepared, into, rows, owner, node_id, log)
    return rows, how


def _incoming_types(con: psycopg.Connection[Any], final: list[Described]) -> dict[str, str]:
    """Each output column's PostgreSQL type with its modifier (numeric(10,2), varchar(5), timestamp(3))."""
    types = {}
    for column in final:
        type_sql = column.type_sql
        if type_sql.isdigit():  # a type psycopg does not know (an extension's): PostgreSQL names it
            row = con.execute("SELECT format_type(%s, NULL)", (column.oid,)).fetchone()
            type_sql = str(row[0]) if row else "text"
        types[column.name] = type_sql
    return types
