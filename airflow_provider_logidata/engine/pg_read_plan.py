"""What a ``source.postgres`` read selects, and how: its columns' Arrow types, the table or query it reads
and the incremental (cursor) condition. No rows move here; ``engine.pg_read`` runs the read.

Types: smallint/integer/bigint -> int16/int32/int64, real/double -> float32/float64, numeric(p, s) ->
decimal(p, s) (numeric without precision -> decimal(38, 9), rounded to 9 decimals like select_columns'
decimal), boolean -> bool, date -> date32, timestamp -> timestamp[us], timestamptz -> timestamp[us, UTC],
time -> time64[us], bytea -> binary; text, json/jsonb, uuid, arrays, intervals and every other type ->
string (PostgreSQL's text form). ELT's source SELECT (``engine.elt.source_select``) normalises its types
by the same plan.

Every identifier goes through ``psycopg.sql.Identifier`` and every value through ``psycopg.sql.Literal``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import sql

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_connect import pg_error, query_failed

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.cursor_read import CursorRead
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

SOURCE = "source.postgres"
EXAMPLES = 8

# --- PostgreSQL -> Arrow types (by type OID) --------------------------------------------------------

BOOL, BYTEA, INT8, INT2, INT4, OID = 16, 17, 20, 21, 23, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 1082, 1083, 1114, 1184
FIXED_TYPES: dict[int, pa.DataType] = {
    BOOL: pa.bool_(),
    INT2: pa.int16(),
    INT4: pa.int32(),
    INT8: pa.int64(),
    OID: pa.int64(),
    FLOAT4: pa.float32(),
    FLOAT8: pa.float64(),
    DATE: pa.date32(),
    TIME: pa.time64("us"),
    TIMESTAMP: pa.timestamp("us"),
    TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    BYTEA: pa.binary(),
}
TEMPORAL_OIDS = (DATE, TIMESTAMP, TIMESTAMPTZ)
DEFAULT_DECIMAL = pa.decimal128(38, 9)


@dataclass(frozen=True)
class SourceColumn:
    """One result column: its name, PostgreSQL type and how it is selected and typed in Arrow."""

    name: str
    oid: int
    type_display: str
    arrow_type: pa.DataType
    parse_type: pa.DataType  # the type pyarrow's CSV reader produces (binary is decoded afterwards)
    expression: sql.Composable  # how the COPY selects it from ``q``


def plan_column(
    name: str, oid: int, type_display: str, precision: int | None, scale: int | None
) -> SourceColumn:
    ref = sql.SQL("q.{}").format(sql.Identifier(name))
    if oid == NUMERIC:
        if precision is not None and scale is not None and 0 <= scale <= precision <= 76 and precision > 0:
            arrow: pa.DataType = (
                pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
            )
            return SourceColumn(name, oid, type_display, arrow, arrow, ref)
        # Unconstrained numeric: the engine's decimal, DECIMAL(38, 9); PostgreSQL rounds (and fails on
        # values of more than 29 integer digits, naming the column).
        cast = sql.SQL("{}::numeric(38,9)").format(ref)
        return SourceColumn(name, oid, type_display, DEFAULT_DECIMAL, DEFAULT_DECIMAL, cast)
    if oid in FIXED_TYPES:
        arrow = FIXED_TYPES[oid]
        parse = pa.string() if oid == BYTEA else arrow
        return SourceColumn(name, oid, type_display, arrow, parse, ref)
    return SourceColumn(name, oid, type_display, pa.string(), pa.string(), ref)


def cursor_text(value: Any) -> str:
    """A cursor value as text PostgreSQL reads back exactly (an untyped literal takes the column's type)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def cursor_start(config: PostgresSourceConfig, state: Any, *, owner: str, log: TaskLog) -> str | None:
    """Where a cursor read starts: the committed value, else ``initial_value``, else nowhere (all rows)."""
    spec = config.incremental
    assert spec is not None
    if isinstance(state, dict) and "value" in state:
        column = state.get("column")
        if column in (None, spec.column):
            return None if state["value"] is None else str(state["value"])
        log.warning(
            f"{owner}: the committed cursor is on column {column!r}, the node now uses {spec.column!r}; "
            "starting again from initial_value"
        )
    elif state is not None and not isinstance(state, (dict, list)):
        return str(state)  # a value set by hand
    return None if spec.initial_value is None else str(spec.initial_value)


def table_select(
    con: psycopg.Connection[Any], config: PostgresSourceConfig, owner: str
) -> tuple[sql.Composable, str]:
    """The base SELECT of a table source (checked to exist) and how to name it in messages."""
    assert config.table is not None
    if config.schema_name:
        found = con.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s))",
            (config.schema_name, config.table),
        ).fetchone()
    else:
        found = con.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(quote_ident(%s))",
            (config.table,),
        ).fetchone()
    if found is None:
        schema = config.schema_name or str(con.execute("SELECT current_schema()").fetchone()[0])  # type: ignore[index]
        schema_exists = con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if schema_exists is None:
            schemas = [
                row[0]
                for row in con.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
                    "AND nspname <> 'information_schema' ORDER BY 1 LIMIT %s",
                    (EXAMPLES,),
                )
            ]
            raise LogiDataTaskError(
                f"{owner}: schema {schema!r} does not exist in this database; existing schemas: "
                f"{', '.join(schemas) or '(none)'}. Fix schema in the node's config."
            )
        tables = [
            row[0]
            for row in con.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1 LIMIT %s",
                (schema, EXAMPLES + 1),
            )
        ]
        shown = ", ".join(tables[:EXAMPLES]) + (", ..." if len(tables) > EXAMPLES else "")
        raise LogiDataTaskError(
            f"{owner}: table {config.table!r} does not exist in schema {schema!r}; tables there: "
            f"{shown or '(none)'}. Fix table (names are case-sensitive) or schema in the node's config."
        )
    schema, table = str(found[0]), str(found[1])
    return sql.SQL("SELECT * FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)
    ), f"{schema}.{table}"


def describe_select(
    con: psycopg.Connection[Any], base: sql.Composable, *, owner: str, what: str
) -> list[tuple[str, int, str, int | None, int | None]]:
    with con.cursor() as cur:
        try:
            cur.execute(sql.SQL("SELECT * FROM (\n{}\n) AS q LIMIT 0").format(base))
        except psycopg.Error as error:
            raise query_failed(
                error,
                owner,
                what,
                f"{owner}: PostgreSQL rejected {what}: {pg_error(error)}; fix the node's config (and check "
                "that the connection points at the right database)",
            ) from None
        assert cur.description is not None
        return [
            (col.name, col.type_code, col.type_display, col.precision, col.scale) for col in cur.description
        ]


# Column types a cursor compares the same way in PostgreSQL and in Arrow (text under COLLATE "C", which
# orders by code point like Arrow; uuid's order is its text's).
_CURSOR_OIDS = (INT2, INT4, INT8, OID, NUMERIC, FLOAT4, FLOAT8, DATE, TIME, TIMESTAMP, TIMESTAMPTZ)
_TEXT_OIDS = (25, 1043, 1042, 19)  # text, varchar, char, name
UUID = 2950


def cursor_condition(
    column: SourceColumn,
    ref: sql.Composable,
    spec: Any,
    cursor_from: str | None,
    cursor_read: CursorRead | None,
    conditions: list[sql.Composable],
    owner: str,
    node_id: str,
    log: TaskLog,
) -> str | None:
    """Add a cursor read's condition; returns where it starts (``None``: every row).

    With ``cursor_read`` the start is the smallest value of the destinations' states (each destination
    drops what it already holds, ``engine.incremental_load``). Text compares under ``COLLATE "C"`` so
    that PostgreSQL, Arrow and the destinations order values alike.
    """
    if column.oid not in (*_CURSOR_OIDS, *_TEXT_OIDS, UUID):
        raise LogiDataTaskError(
            f"{owner}: incremental column {column.name!r} is {column.type_display}, which a cursor cannot "
            "compare reliably; use a number, date, timestamp, text or uuid column (an updated_at timestamp, "
            "an increasing id)"
        )
    standing = ""
    if cursor_read is not None:
        initial = None if spec.initial_value is None else str(spec.initial_value)
        cursor_from, standing = cursor_read.start(
            column.name, column.arrow_type, initial, owner=owner, log=log
        )
    if cursor_from is None:
        reason = standing or "no committed cursor yet"
        log.info(f"{node_id}: reading every row ({reason})")
        return None
    compared = sql.SQL('{} COLLATE "C"').format(ref) if column.oid in _TEXT_OIDS else ref
    conditions.append(sql.SQL("{} >= {}").format(compared, sql.Literal(cursor_from)))
    log.info(
        f"{node_id}: read rows with {column.name} >= {cursor_from!r}" + (f" ({standing})" if standing else "")
    )
    return cursor_from


def pick_columns(
    names: Sequence[str], wanted: Sequence[str] | None, *, owner: str, described: str
) -> list[int]:
    """The positions of the columns a source reads: ``wanted`` (the node's ``columns``), else all.

    Shared by the ETL read and the ELT source SELECT, so both refuse the same inputs with the same words.
    """
    duplicates = sorted({name for name in names if list(names).count(name) > 1})
    if duplicates:
        raise LogiDataTaskError(
            f"{owner}: the query returns several columns named {', '.join(map(repr, duplicates))}; "
            "give each output column a distinct name (AS alias)"
        )
    if not wanted:
        return list(range(len(names)))
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in wanted if name not in index]
    if missing:
        raise LogiDataTaskError(
            f"{owner}: column(s) {', '.join(map(repr, missing))} not in {described}; available "
            f"columns: {', '.join(names) or '(none)'}. Fix columns in the node's config."
        )
    return [index[name] for name in wanted]
