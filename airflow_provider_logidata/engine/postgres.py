"""PostgreSQL source and destination, streamed through psycopg 3 ``COPY`` and Arrow.

Source: ``COPY (SELECT <columns> FROM (<table or query>) AS q [WHERE <incremental>]) TO STDOUT`` in CSV, in
a read-only REPEATABLE READ transaction that is rolled back, under ``statement_timeout`` (``confine``), after
the query passed ``security.pg_sql`` again (rendered). PostgreSQL sends one protocol message per row, so
rows are gathered ``batch_rows`` at a time and each batch is parsed by pyarrow's CSV reader with column
types taken from the result's PostgreSQL types; batches stream into staging. Memory stays at about one
batch.

Types: smallint/integer/bigint -> int16/int32/int64, real/double -> float32/float64, numeric(p, s) ->
decimal(p, s) (numeric without precision -> decimal(38, 9), rounded to 9 decimals like select_columns'
decimal), boolean -> bool, date -> date32, timestamp -> timestamp[us], timestamptz -> timestamp[us, UTC],
time -> time64[us], bytea -> binary; text, json/jsonb, uuid, arrays, intervals and every other type ->
string (PostgreSQL's text form).

Destination: one transaction does everything: create or evolve the table (``prepare_target``), write the
rows (``open_destination`` says where), then apply them (``finalize``); ELT (``engine.elt``) runs the same
three steps with an ``INSERT ... SELECT`` in place of the COPY. Rows are written once wherever the mode
allows: append, and replace of a table this transaction creates, ``COPY`` straight into the target; replace
of an existing table copies into a new table made ``LIKE`` it and swaps it in by renaming
(``engine.pg_swap``: the exclusive lock is held only for the swap), falling back to a temporary table
applied with ``TRUNCATE`` + ``INSERT`` when the table has what a swap would lose (views on it, foreign keys,
triggers, owned sequences, ...); merge copies into a temporary table ``<table>__logidata_<id>`` and runs
``INSERT ... ON CONFLICT (keys) DO UPDATE`` (or ``UPDATE ... FROM`` + ``INSERT ... WHERE NOT EXISTS`` when
the table has no unique index on the keys) over the incoming rows deduplicated on the keys (the last one
wins). The COPY is binary when every column has an exact binary form, else CSV, encoded by a background
thread while the previous batch is sent (``engine.pg_copy``). Any failure, the process being killed
included, rolls it all back: the target is exactly as it was. Measured on this project's 2-core machine:
read ~500k rows/s; 5M rows x 10 columns replace into a new table ~850k-960k rows/s (``psql \\copy`` of
the same CSV ~700k-970k rows/s in the same runs); merge into a 1M-row table with a primary key ~130k
rows/s. Incremental loads (``engine.incremental_load``): an interval read is replaced in the same
transaction (append), and a cursor's rows already loaded are dropped and its new state written in the same
transaction as the rows.

Every identifier goes through ``psycopg.sql.Identifier`` and every value through ``psycopg.sql.Literal``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine import incremental, pg_contract, pg_copy, pg_swap, pg_types, staging
from airflow_provider_logidata.engine.destinations import register_destination
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.incremental_load import DestinationIncremental
from airflow_provider_logidata.engine.logs import Progress, TaskLog, get_log
from airflow_provider_logidata.engine.sources import register_source
from airflow_provider_logidata.modules.postgres import (
    PostgresDestinationConfig,
    PostgresSourceConfig,
    check_select,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from airflow_provider_logidata.modules.base import ModuleConfig

SOURCE = "source.postgres"
DESTINATION = "destination.postgres"
# A batch is cut at batch_rows rows or at this many bytes of CSV, whichever comes first.
MAX_BATCH_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT = 30
EXAMPLES = 8

# --- PostgreSQL -> Arrow types (by type OID) --------------------------------------------------------

BOOL, BYTEA, INT8, INT2, INT4, OID = 16, 17, 20, 21, 23, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 1082, 1083, 1114, 1184
_FIXED_TYPES: dict[int, pa.DataType] = {
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
_TEMPORAL_OIDS = (DATE, TIMESTAMP, TIMESTAMPTZ)
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
    if oid in _FIXED_TYPES:
        arrow = _FIXED_TYPES[oid]
        parse = pa.string() if oid == BYTEA else arrow
        return SourceColumn(name, oid, type_display, arrow, parse, ref)
    return SourceColumn(name, oid, type_display, pa.string(), pa.string(), ref)


# --- connections ------------------------------------------------------------------------------------


def connection_args(conn_id: str, *, owner: str) -> dict[str, Any]:
    """psycopg 3 connection arguments of an Airflow ``postgres`` connection (through PostgresHook)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        conn = hook.connection
    except Exception as error:
        text = str(error)
        if "NotFound" in type(error).__name__ or "isn't defined" in text or "not found" in text.lower():
            raise LogiDataTaskError(
                f"{owner}: the Airflow connection {conn_id!r} does not exist; create it (Admin > "
                f"Connections, type postgres) or set AIRFLOW_CONN_{conn_id.upper()}, or fix conn_id in the "
                "node's config"
            ) from None
        raise LogiDataTaskError(
            f"{owner}: cannot read the Airflow connection {conn_id!r}: {text}; check the connection"
        ) from None
    extra = conn.extra_dejson
    login, password, port = conn.login, conn.password, conn.port
    if extra.get("iam", False):
        login, password, port = hook.get_iam_token(conn)
    args: dict[str, Any] = {
        "host": conn.host or None,
        "port": port or None,
        "user": login or None,
        "password": password or None,
        "dbname": conn.schema or None,
        "connect_timeout": CONNECT_TIMEOUT,
    }
    ignored = set(getattr(hook, "ignored_extra_options", ())) | {"cursor"}
    for key, value in extra.items():
        if key not in ignored:
            args[key] = value
    return {key: value for key, value in args.items() if value is not None}


def _where(args: dict[str, Any]) -> str:
    host = args.get("host", "localhost")
    return f"{host}:{args.get('port', 5432)}/{args.get('dbname', '')} as {args.get('user', '(default user)')}"


@contextlib.contextmanager
def connect(conn_id: str, *, owner: str, node_id: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg 3 connection with the session settings the engine relies on."""
    args = connection_args(conn_id, owner=owner)
    args.setdefault("application_name", f"logidata:{node_id}"[:63])
    try:
        con = psycopg.connect(autocommit=True, **args)
    except psycopg.Error as error:
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "FATAL:" in cause:  # libpq's "connection to server at ... failed: FATAL:  <cause>"
            cause = cause.rsplit("FATAL:", 1)[1].strip()
        if "password" in cause or "authentication" in cause:
            fix = "check the login and password of the connection"
        elif "does not exist" in cause:
            fix = "check the database (the connection's schema field) and login of the connection"
        else:
            fix = "check the host, port and database of the connection, and that the server is reachable"
        raise LogiDataTaskError(
            f"{owner}: cannot connect to PostgreSQL through connection {conn_id!r} ({_where(args)}): "
            f"{cause}; {fix}"
        ) from None
    try:
        # UTC and ISO formats make the text PostgreSQL sends and reads unambiguous.
        con.execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
            "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET standard_conforming_strings = on; "
            "SET client_encoding = 'UTF8'"
        )
        yield con
    finally:
        con.close()


# How often a busy backend checks that its client is still connected (PostgreSQL 14+, in milliseconds).
CLIENT_CHECK_MS = 1000
# A preview's statement_timeout is its time limit plus this: the pool kills the worker at the limit (and
# answers 504, naming what ran); the server ends the statement shortly after even if it never learns that
# its client is gone.
PREVIEW_GRACE_SECONDS = 2.0


def statement_timeout_seconds() -> float:
    """How long one statement of a source query may run: in a preview worker the preview's time limit
    (plus ``PREVIEW_GRACE_SECONDS``), in a run ``[logidata] source_statement_timeout`` (0: no limit of
    LogiData's)."""
    from airflow_provider_logidata.preview import pool

    if pool.in_worker():
        limit = pool.job_time_limit()
        return (settings.preview_timeout() if limit is None else limit) + PREVIEW_GRACE_SECONDS
    return settings.source_statement_timeout()


def confine(con: psycopg.Connection[Any], *, seconds: float, read_only: bool = True) -> None:
    """Bound the current transaction (call it first inside ``con.transaction()``); settings end with it.

    ``read_only``: ``SET TRANSACTION READ ONLY`` (PostgreSQL then refuses INSERT/UPDATE/DELETE on real
    tables, DDL, ``nextval``, ...). ``seconds``: ``SET LOCAL statement_timeout`` (0 leaves the server's,
    role's or database's own setting alone).

    Why a query cannot outlive its preview or its worker: a preview worker is killed with SIGKILL at the
    preview's time limit (``preview.pool``), and a run's worker may die too; nothing of the killed process
    can then cancel its query. Two server-side settings stop it instead, whatever happens to the client:
    ``statement_timeout``, which a preview sets to its own time limit (plus ``PREVIEW_GRACE_SECONDS``, so
    that the pool's 504 comes first), ends the running statement by then at the latest; and
    ``client_connection_check_interval`` (PostgreSQL 14+, settable by any role) makes the backend poll its
    socket every ``CLIENT_CHECK_MS`` while it executes, so the backend of a killed process (its socket
    closed by the kernel) stops its query and exits within about a second, even a ``pg_sleep`` or a long
    scan. Neither needs the api-server to reach the database, hold credentials or even survive, which a
    cancel sent from the api-server (``pg_cancel_backend`` of a pid reported by the worker) would.
    """
    if read_only:
        con.execute("SET TRANSACTION READ ONLY")
    if seconds > 0:
        milliseconds = max(1, int(seconds * 1000))
        con.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(milliseconds)))
    if con.info.server_version >= 140000:
        con.execute(
            sql.SQL("SET LOCAL client_connection_check_interval = {}").format(sql.Literal(CLIENT_CHECK_MS))
        )


def warn_about_role(con: psycopg.Connection[Any], conn_id: str, owner: str, log: TaskLog) -> None:
    """Warn (task log, and the preview's answer inside a preview worker) when the connection's role is a
    superuser or may reach server files (``engine.pg_checks``)."""
    from airflow_provider_logidata.engine.pg_checks import role_warning
    from airflow_provider_logidata.preview.pool import report_warning

    warning = role_warning(con, conn_id)
    if warning is not None:
        log.warning(f"{owner}: {warning}")
        report_warning(f"{owner}: {warning}")


def _first_line(error: BaseException) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(error).strip() or type(error).__name__
    return text.splitlines()[0].strip()


def _pg_error(error: psycopg.Error) -> str:
    """The error's message with PostgreSQL's detail and hint, on one line."""
    parts = [_first_line(error)]
    diag = error.diag
    for extra in (diag.message_detail, diag.message_hint):
        if extra:
            parts.append(extra.strip())
    return ". ".join(part.rstrip(".") for part in parts)


# --- source -----------------------------------------------------------------------------------------


@dataclass
class CursorTracker:
    """The largest value of the cursor column among the rows read."""

    column: str
    index: int
    value: Any = None

    def update(self, batch: pa.RecordBatch) -> None:
        array = batch.column(self.index)
        if array.null_count == len(array):
            return
        largest = pc.max(array).as_py()
        if largest is not None and (self.value is None or largest > self.value):
            self.value = largest


@dataclass
class SourceStream:
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    columns: list[SourceColumn]
    description: str
    cursor: CursorTracker | None = None
    stats: dict[str, int] = field(default_factory=dict)
    read_from: str | None = None  # a cursor read: where it started (inclusive), None for every row


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


def _relation(
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


def _describe(
    con: psycopg.Connection[Any], base: sql.Composable, *, owner: str, what: str
) -> list[tuple[str, int, str, int | None, int | None]]:
    with con.cursor() as cur:
        try:
            cur.execute(sql.SQL("SELECT * FROM (\n{}\n) AS q LIMIT 0").format(base))
        except psycopg.Error as error:
            confined = confinement_error(error, owner, what)
            if confined is not None:
                raise confined from None
            raise LogiDataTaskError(
                f"{owner}: PostgreSQL rejected {what}: {_pg_error(error)}; fix the node's config (and check "
                "that the connection points at the right database)"
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


def _cursor_condition(
    column: SourceColumn,
    ref: sql.Composable,
    spec: Any,
    cursor_from: str | None,
    cursor_read: incremental.CursorRead | None,
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


@contextlib.contextmanager
def open_stream(
    config: PostgresSourceConfig,
    node_id: str,
    log: TaskLog,
    *,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    cursor_from: str | None = None,
    cursor_read: incremental.CursorRead | None = None,
) -> Iterator[SourceStream]:
    """Connect, check and plan the read, and yield a stream of Arrow batches (consumed inside the block).

    ``cursor_read``: the destinations' cursor states; the read starts at the smallest (``cursor_from``
    is then ignored) and ``SourceStream.read_from`` says where it started.
    """
    owner = node_label(SOURCE, node_id)
    spec = config.incremental
    query = None
    if config.query is not None:
        # The rendered query, checked again before anything runs: one SELECT, no function reaching the
        # server's files, processes, configuration or other servers (security.pg_sql).
        try:
            query = check_select(config.query)  # without its trailing ';'
        except ValueError as error:
            raise LogiDataTaskError(f"{owner}: {error}") from None
    with connect(config.conn_id, owner=owner, node_id=node_id) as con:
        warn_about_role(con, config.conn_id, owner, log)
        con.read_only = True
        con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        # Read-only, time-bounded (``confine``), and rolled back: a read has nothing to commit, and
        # whatever a missed function might do inside the transaction (a large object, ...) is undone.
        with con.transaction(force_rollback=True):
            confine(con, seconds=statement_timeout_seconds())
            if config.table is not None:
                base, described = _relation(con, config, owner)
                what = f"table {described}"
            else:
                assert query is not None
                base, described, what = sql.SQL(query), "query", "the query"
            available = _describe(con, base, owner=owner, what=what)
            names = [name for name, *_ in available]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise LogiDataTaskError(
                    f"{owner}: the query returns several columns named {', '.join(map(repr, duplicates))}; "
                    "give each output column a distinct name (AS alias)"
                )
            by_name = {item[0]: item for item in available}
            selected = available
            if config.columns:
                missing = [name for name in config.columns if name not in by_name]
                if missing:
                    raise LogiDataTaskError(
                        f"{owner}: column(s) {', '.join(map(repr, missing))} not in {described}; available "
                        f"columns: {', '.join(names) or '(none)'}. Fix columns in the node's config."
                    )
                selected = [by_name[name] for name in config.columns]
            columns = [plan_column(*item) for item in selected]
            conditions: list[sql.Composable] = []
            tracker: CursorTracker | None = None
            if spec is not None:
                position = next((i for i, c in enumerate(columns) if c.name == spec.column), None)
                if position is None:
                    raise LogiDataTaskError(
                        f"{owner}: incremental column {spec.column!r} is not among the columns read "
                        f"({', '.join(c.name for c in columns) or 'none'}); add it to columns or the query, "
                        "or fix incremental.column"
                    )
                column = columns[position]
                ref = sql.SQL("q.{}").format(sql.Identifier(column.name))
                if spec.mode == "data_interval":
                    if column.oid not in _TEMPORAL_OIDS:
                        raise LogiDataTaskError(
                            f"{owner}: incremental column {column.name!r} is {column.type_display}; mode "
                            "'data_interval' needs a date, timestamp or timestamptz column. Pick such a "
                            "column or use mode 'cursor'."
                        )
                    if interval is None:
                        raise LogiDataTaskError(
                            f"{owner}: mode 'data_interval' needs the run's data interval; run the node "
                            "through its Airflow operator"
                        )
                    start, end = interval
                    conditions.append(
                        sql.SQL("{} >= CAST({} AS timestamptz) AND {} < CAST({} AS timestamptz)").format(
                            ref, sql.Literal(start.isoformat()), ref, sql.Literal(end.isoformat())
                        )
                    )
                    log.info(f"{node_id}: reading {column.name} in [{start.isoformat()}, {end.isoformat()})")
                else:
                    tracker = CursorTracker(column=column.name, index=position)
                    cursor_from = _cursor_condition(
                        column, ref, spec, cursor_from, cursor_read, conditions, owner, node_id, log
                    )
            where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
            statement = sql.SQL("COPY (SELECT {} FROM (\n{}\n) AS q{}) TO STDOUT (FORMAT csv)").format(
                sql.SQL(", ").join(c.expression for c in columns), base, where
            )
            schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
            log.info(
                f"{node_id}: reading {described} ({len(columns)} column(s): "
                + ", ".join(f"{c.name} {c.type_display}" for c in columns[:20])
                + (", ..." if len(columns) > 20 else "")
                + ")"
            )
            batch_rows = config.batch_rows or settings.batch_rows()
            stream = SourceStream(schema=schema, batches=iter(()), columns=columns, description=described)
            stream.cursor = tracker
            stream.read_from = cursor_from
            stream.batches = _copy_batches(
                con, statement, columns, schema, batch_rows, owner, described, stream
            )
            try:
                yield stream
            finally:
                stream.batches.close()  # type: ignore[attr-defined]


def _copy_batches(
    con: psycopg.Connection[Any],
    statement: sql.Composed,
    columns: list[SourceColumn],
    schema: pa.Schema,
    batch_rows: int,
    owner: str,
    described: str,
    stream: SourceStream,
) -> Iterator[pa.RecordBatch]:
    read_options = {"column_names": [c.name for c in columns], "use_threads": True}
    convert = pacsv.ConvertOptions(
        column_types={c.name: c.parse_type for c in columns},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["t"],
        false_values=["f"],
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)
    binary = [i for i, c in enumerate(columns) if c.oid == BYTEA]
    batches = 0
    with con.cursor() as cur:
        try:
            with cur.copy(statement) as copy:
                # Rows go into one growing buffer: keeping each row's memoryview alive instead costs
                # allocations and garbage-collector passes (measured 2.5 times slower).
                data = bytearray()
                rows = longest = 0
                for row in copy:
                    data += row
                    rows += 1
                    if len(row) > longest:
                        longest = len(row)
                    if rows >= batch_rows or len(data) >= MAX_BATCH_BYTES:
                        batch = _parse(data, longest, read_options, parse, convert, schema, binary, owner)
                        data, rows, longest = bytearray(), 0, 0
                        batches += 1
                        if stream.cursor is not None:
                            stream.cursor.update(batch)
                        yield batch
                if rows:
                    batch = _parse(data, longest, read_options, parse, convert, schema, binary, owner)
                    batches += 1
                    if stream.cursor is not None:
                        stream.cursor.update(batch)
                    yield batch
        except psycopg.Error as error:
            confined = confinement_error(error, owner, described)
            if confined is not None:
                raise confined from None
            raise LogiDataTaskError(
                f"{owner}: PostgreSQL failed while reading {described}: {_pg_error(error)}; fix the query or "
                "the data (a value the query cannot compute, a cast that fails), or cast the column to text"
            ) from None
    stream.stats["batches"] = batches


def confinement_error(error: psycopg.Error, owner: str, described: str) -> LogiDataTaskError | None:
    """The message for a query stopped by ``confine`` (time limit, read-only), else ``None``."""
    if error.sqlstate == "57014" and "statement timeout" in str(error):
        from airflow_provider_logidata.preview import pool

        seconds = statement_timeout_seconds()
        if pool.in_worker():
            return LogiDataTaskError(
                f"{owner}: PostgreSQL stopped reading {described}: it ran longer than the preview's time "
                f"limit ({seconds:g} s, [logidata] preview_timeout); add a filter or preview fewer rows"
            )
        return LogiDataTaskError(
            f"{owner}: PostgreSQL stopped reading {described}: it ran longer than [logidata] "
            f"source_statement_timeout ({seconds:g} s); make the query faster (a filter, an index) or raise "
            "source_statement_timeout (0: no limit)"
        )
    if error.sqlstate == "25006":
        return LogiDataTaskError(
            f"{owner}: {described} tried to write ({_pg_error(error)}); a source query runs in a read-only "
            "transaction: it may only read. Write with a destination"
        )
    return None


def _parse(
    data: bytearray,
    longest: int,
    read_options: dict[str, Any],
    parse: pacsv.ParseOptions,
    convert: pacsv.ConvertOptions,
    schema: pa.Schema,
    binary: list[int],
    owner: str,
) -> pa.RecordBatch:
    # A row must fit in one block; several blocks let pyarrow convert in parallel.
    block = max(1 << 20, 2 * longest + 1024)
    options = pacsv.ReadOptions(block_size=block, **read_options)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data), read_options=options, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as error:
        raise LogiDataTaskError(f"{owner}: {_conversion_error(str(error), schema)}") from None
    arrays = [_one_chunk(table.column(i)) for i in range(table.num_columns)]
    for index in binary:
        values = arrays[index].to_pylist()
        arrays[index] = pa.array(
            [None if v is None else bytes.fromhex(v[2:]) for v in values], type=pa.binary()
        )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)


def _conversion_error(message: str, schema: pa.Schema) -> str:
    match = re.search(r"column #(\d+)", message)
    column = ""
    if match and int(match.group(1)) < len(schema):
        field_ = schema.field(int(match.group(1)))
        column = f" of column {field_.name!r} ({field_.type})"
    text = message.splitlines()[0][:300]
    return (
        f"a value{column} cannot be converted to Arrow: {text}; read it as text instead (query with "
        "column::text), or exclude the value"
    )


def read_postgres(
    config: PostgresSourceConfig,
    node_id: str,
    output_uri: str,
    *,
    log: TaskLog | None = None,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    cursor: incremental.CursorRead | None = None,
    dag_id: str | None = None,
    cursor_key: str | None = None,
    cursor_state: Any = None,
) -> staging.StagingHandle:
    """Read the source into the staging file ``output_uri``; returns the handle (with what was read).

    ``interval`` is the run's data interval (mode ``data_interval``): the handle's ``meta`` carries it so
    that an appending destination replaces exactly that interval. ``cursor`` (mode ``cursor``, what the
    operator passes) holds the states of the destinations fed by this source: the read starts at the
    smallest, and the handle's ``meta["incremental"]`` tells each destination where the read started and
    the largest value read, to drop what it holds and commit its own cursor (``engine.incremental``).
    ``cursor_key`` and ``cursor_state``: the single Variable cursor of earlier versions (committed by
    ``destination.postgres`` to that Variable, the boundary rows read again), for callers without
    ``cursor``.
    """
    logger = get_log(log)
    owner = node_label(SOURCE, node_id)
    spec = config.incremental
    cursor_from = None
    if spec is not None and spec.mode == "cursor" and cursor is None:
        if cursor_key is None:
            raise LogiDataTaskError(
                f"{owner}: mode 'cursor' needs the cursors of its destinations; run the node through its "
                "Airflow operator"
            )
        cursor_from = cursor_start(config, cursor_state, owner=owner, log=logger)
    started = time.monotonic()
    with open_stream(
        config, node_id, logger, interval=interval, cursor_from=cursor_from, cursor_read=cursor
    ) as stream:
        handle = staging.write_staging(
            stream.batches, output_uri, label=node_id, schema=stream.schema, log=logger
        )
    seconds = time.monotonic() - started
    rate = handle["rows"] / max(seconds, 1e-9)
    logger.info(
        f"{node_id}: read {handle['rows']} rows from {stream.description} in "
        f"{stream.stats.get('batches', 0)} batch(es), {seconds:.2f} s ({rate:,.0f} rows/s)"
    )
    if spec is not None and spec.mode == "data_interval" and interval is not None:
        handle["meta"] = {
            "incremental": [incremental.interval_meta(dag_id, node_id, spec.column, interval[0], interval[1])]
        }
    elif stream.cursor is not None and cursor is not None:
        assert spec is not None
        read_max = None if stream.cursor.value is None else cursor_text(stream.cursor.value)
        entry = incremental.cursor_meta(
            cursor.dag_id,
            cursor.source,
            stream.cursor.column,
            initial_value=None if spec.initial_value is None else str(spec.initial_value),
            read_from=stream.read_from,
            read_max=read_max,
        )
        handle["meta"] = {"incremental": [entry]}
        if read_max is None:
            logger.info(f"{node_id}: no row read; every destination's cursor stays where it is")
        else:
            logger.info(
                f"{node_id}: largest {stream.cursor.column} read: {read_max!r}; each destination drops the "
                "rows it already holds and commits its own cursor once the rest has landed"
            )
    elif stream.cursor is not None and cursor_key is not None:
        if stream.cursor.value is None:
            logger.info(f"{node_id}: no new rows; the cursor stays at {cursor_from!r}")
        else:
            value = {"column": stream.cursor.column, "value": cursor_text(stream.cursor.value)}
            handle["meta"] = {"cursors": [{"key": cursor_key, "value": value}]}
            logger.info(
                f"{node_id}: new cursor {value['value']!r}, committed by the destination once the data has "
                "landed"
            )
    return handle


@register_source(SOURCE)
@contextlib.contextmanager
def open_postgres_source(config: ModuleConfig, node_id: str, log: TaskLog) -> Iterator[pa.RecordBatchReader]:
    """The generic source interface (``engine.runner.run_source``), for reads that are not incremental."""
    if not isinstance(config, PostgresSourceConfig):
        raise TypeError(f"{SOURCE} expects PostgresSourceConfig, got {type(config).__name__}")
    if config.incremental is not None:
        raise LogiDataTaskError(
            f"{node_label(SOURCE, node_id)}: incremental reads need the Airflow run (its data interval or "
            "cursor); run the node through PostgresSourceOperator"
        )
    with open_stream(config, node_id, log) as stream:
        yield pa.RecordBatchReader.from_batches(stream.schema, stream.batches)


# --- destination ------------------------------------------------------------------------------------

# Arrow type -> the PostgreSQL type holding its values exactly: the type of a new column, and how an ETL
# input is described to the type contract (engine.pg_types) against an existing column.


def pg_type_for(arrow_type: pa.DataType) -> str:
    t = arrow_type
    if pa.types.is_dictionary(t):
        return pg_type_for(t.value_type)
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "numeric(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{max(t.scale, 0)})"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if pa.types.is_time(t):
        return "time without time zone"
    if pa.types.is_duration(t):
        return "interval"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytea"
    if _is_nested(t):
        return "jsonb"
    return "text"


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t)


@dataclass(frozen=True)
class TargetColumn:
    name: str
    attnum: int
    type_sql: str  # format_type(): quoted and qualified where needed, usable in DDL
    category: str
    typname: str
    not_null: bool
    has_default: bool
    generated: bool
    base_sql: str = ""  # a domain's base type (format_type), else type_sql
    domain: bool = False

    def rule(self, incoming: str) -> pg_types.Rule:
        """How values of the PostgreSQL type ``incoming`` load into this column (``engine.pg_types``)."""
        target = pg_types.parse_type(self.base_sql or self.type_sql)
        rule = pg_types.classify(incoming, target, target_category=self.category, domain=self.domain)
        if self.domain:  # loaded as the domain itself: its checks apply (classify never widens a domain)
            convert = rule.convert.removesuffix(f"AS {target.sql})") + f"AS {self.type_sql})"
            return dataclasses.replace(rule, convert=convert)
        return rule


@dataclass
class LoadPlan:
    """What to load: input column -> table column, and what to change in the table first."""

    columns: list[tuple[str, str, str]]  # (input name, table column name, staging type sql)
    add: list[tuple[str, str]] = field(default_factory=list)  # new table columns (name, type sql)
    dropped: list[str] = field(default_factory=list)  # input columns not loaded (discard)
    # Existing table column -> its type rule (engine.pg_types); other columns load with a plain CAST.
    rules: dict[str, pg_types.Rule] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # columns whose values must be checked in SQL
    direct: bool = True  # ETL may COPY the Arrow values straight into the table (pg_contract.prepare)

    def convert_sql(self, input_name: str, column: str, type_sql: str, value: str) -> str:
        """SQL turning ``value`` (the input column, in its own type) into the table column's type."""
        rule = self.rules.get(column)
        return rule.convert_sql(value) if rule is not None else f"CAST({value} AS {type_sql})"


def _target(
    con: psycopg.Connection[Any], schema: str, table: str
) -> tuple[int, str, list[TargetColumn]] | None:
    row = con.execute(
        "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    if row is None:
        return None
    oid, relkind = int(row[0]), str(row[1])
    columns = [
        TargetColumn(
            name=r[0],
            attnum=int(r[1]),
            type_sql=r[2],
            category=r[3],
            typname=r[4],
            not_null=bool(r[5]),
            has_default=bool(r[6]),
            generated=bool(r[7]),
            base_sql=r[8],
            domain=bool(r[9]),
        )
        for r in con.execute(
            "SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), t.typcategory, "
            "COALESCE(bt.typname, t.typname), a.attnotnull, "
            "a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', "
            "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) "
            "ELSE format_type(a.atttypid, a.atttypmod) END, t.typtype = 'd' "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (oid,),
        )
    ]
    return oid, relkind, columns


def _unique_key_index(
    con: psycopg.Connection[Any], oid: int, columns: list[TargetColumn], keys: list[str]
) -> bool:
    """Whether a unique, non-partial, immediate index covers exactly ``keys`` (ON CONFLICT can use it)."""
    names = {c.attnum: c.name for c in columns}
    for indkey, nkeys in con.execute(
        "SELECT i.indkey::int2[], i.indnkeyatts FROM pg_index i WHERE i.indrelid = %s AND i.indisunique "
        "AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL",
        (oid,),
    ):
        attnums = list(indkey)[: int(nkeys)]
        if 0 not in attnums and {names.get(n) for n in attnums} == set(keys):
            return True
    return False


def _match(name: str, table_columns: dict[str, TargetColumn]) -> TargetColumn | None:
    if name in table_columns:
        return table_columns[name]
    folded = [c for n, c in table_columns.items() if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def plan_load(
    config: PostgresDestinationConfig,
    schema: pa.Schema,
    existing: list[TargetColumn] | None,
    *,
    owner: str,
    target: str,
    incoming: Mapping[str, str] | None = None,
) -> LoadPlan:
    """Match the input's columns to the table's and apply ``on_schema_change``.

    ``incoming``: each input column's PostgreSQL type (ELT: the pushed-down SELECT's); by default the type
    ``pg_type_for`` gives its Arrow type. Each matched column gets its type rule (``engine.pg_types``): a
    change of category (text into a number, ...) is a changed type for 'fail' here; values that could
    change are checked later, by ``pg_contract.enforce``.
    """
    if existing is None:  # a new table: every input column, typed from Arrow
        return LoadPlan(columns=[(f.name, f.name, pg_type_for(f.type)) for f in schema])
    by_name = {c.name: c for c in existing}
    plan = LoadPlan(columns=[])
    added: list[str] = []
    changed: list[str] = []
    matched: set[str] = set()
    for f in schema:
        column = _match(f.name, by_name)
        if column is None:
            added.append(f"{f.name} ({pg_type_for(f.type)})")
            if config.on_schema_change == "evolve":
                plan.add.append((f.name, pg_type_for(f.type)))
                plan.columns.append((f.name, f.name, pg_type_for(f.type)))
            elif config.on_schema_change == "discard":
                plan.dropped.append(f.name)
            continue
        matched.add(column.name)
        if column.generated:
            raise LogiDataTaskError(
                f"{owner}: column {column.name!r} of {target} is generated by PostgreSQL and cannot be "
                "written; drop it from the input (select_columns)"
            )
        rule = column.rule(incoming[f.name] if incoming is not None else pg_type_for(f.type))
        if rule.kind == "category":
            changed.append(f"{column.name} (input {f.type}, table {column.type_sql})")
        plan.rules[column.name] = rule
        plan.columns.append((f.name, column.name, column.type_sql))
    missing = [c for c in existing if c.name not in matched and not c.generated]
    if config.on_schema_change == "fail" and (added or changed or missing):
        parts = []
        if added:
            parts.append(f"added (in the input, not in the table): {', '.join(added)}")
        if missing:
            parts.append(
                "missing (in the table, not in the input): "
                + ", ".join(f"{c.name} ({c.type_sql})" for c in missing)
            )
        if changed:
            parts.append(f"changed type: {', '.join(changed)}")
        raise LogiDataTaskError(
            f"{owner}: the input's columns differ from {target} and on_schema_change is 'fail': "
            f"{'; '.join(parts)}. Change the pipeline or the table to match, or set on_schema_change to "
            f"'evolve' (add new columns) or 'discard' (load only the table's columns). {target} is unchanged."
        )
    required = [c.name for c in missing if c.not_null and not c.has_default]
    if required:
        raise LogiDataTaskError(
            f"{owner}: column(s) {', '.join(map(repr, required))} of {target} are NOT NULL without a default "
            f"but not in the input; add them to the input, or give them a default. {target} is unchanged."
        )
    if not plan.columns:
        raise LogiDataTaskError(
            f"{owner}: none of the input's columns ({', '.join(schema.names)}) is in {target}; check the "
            f"table name or set on_schema_change to 'evolve'. {target} is unchanged."
        )
    return plan


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every column in a form pyarrow writes as CSV text PostgreSQL reads back exactly."""
    arrays = []
    changed = False
    for array in batch.columns:
        converted = _csv_array(array)
        changed = changed or converted is not array
        arrays.append(converted)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _csv_array(array: pa.Array) -> pa.Array:
    t = array.type
    if pa.types.is_dictionary(t):
        return _csv_array(array.dictionary_decode())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.array([None if v is None else "\\x" + v.hex() for v in array.to_pylist()], pa.string())
    if _is_nested(t):
        return pa.array(
            [
                None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                for v in array.to_pylist()
            ],
            pa.string(),
        )
    if pa.types.is_duration(t):
        unit = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "microseconds"}[t.unit]
        values = array.cast(pa.int64()).to_pylist()
        if t.unit == "ns":
            values = [None if v is None else v // 1000 for v in values]
        return pa.array([None if v is None else f"{v} {unit}" for v in values], pa.string())
    if pa.types.is_float16(t):
        return array.cast(pa.float32())
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        return array.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(array), pa.string())
    return array


_COPY_CONTEXT = re.compile(r"line (\d+), column (.*)$", re.DOTALL)


def _load_error(
    error: psycopg.Error, *, owner: str, target: str, loaded: list[tuple[str, str, str]]
) -> LogiDataTaskError:
    diag = error.diag
    state = error.sqlstate or ""
    cause = _pg_error(error)
    unchanged = f"Nothing was written: {target} is unchanged."
    context = diag.context or ""
    column = diag.column_name
    line = None
    if context.startswith("COPY "):
        match = _COPY_CONTEXT.search(context.splitlines()[0])
        if match:
            line = int(match.group(1))
            rest = match.group(2)
            for _input, name, _type in sorted(loaded, key=lambda c: -len(c[1])):
                if rest.startswith(name + ":") or rest == name:
                    column = name
                    break
    types = {name: type_sql for _input, name, type_sql in loaded}
    if state.startswith("22") and column:
        where = f" (input row {line})" if line else ""
        return LogiDataTaskError(
            f"{owner}: a value in column {column!r} cannot be stored as {types.get(column, 'its type')} in "
            f"{target}{where}: {cause}. Fix or filter the value upstream (select_columns cast, filter_rows), "
            f"or change the column's type. {unchanged}"
        )
    if state == "23502":
        return LogiDataTaskError(
            f"{owner}: column {column!r} of {target} does not accept nulls and the input has null values "
            f"in it: {cause}. Fill them upstream (fill_nulls) or filter those rows. {unchanged}"
        )
    if state == "23505":
        return LogiDataTaskError(
            f"{owner}: the rows would duplicate a unique key of {target}: {cause}. Use mode 'merge' with "
            f"keys, or deduplicate upstream. {unchanged}"
        )
    if state.startswith("23"):
        return LogiDataTaskError(
            f"{owner}: the rows break a constraint of {target}: {cause}. Fix the data upstream. {unchanged}"
        )
    if state == "42501":
        return LogiDataTaskError(
            f"{owner}: the connection's user lacks a privilege on {target}: {cause}. Grant it (INSERT, and "
            f"CREATE/TRUNCATE/ALTER as the mode needs). {unchanged}"
        )
    return LogiDataTaskError(f"{owner}: PostgreSQL failed loading {target}: {cause}. {unchanged}")


def _staging_table_name(table: str) -> str:
    suffix = f"__logidata_{uuid.uuid4().hex[:8]}"
    head = table.encode("utf-8")[: 63 - len(suffix)].decode("utf-8", "ignore")
    return head + suffix


def load_postgres(
    config: PostgresDestinationConfig,
    node_id: str,
    handles: Sequence[staging.StagingHandle],
    log: TaskLog | None = None,
    *,
    cursor_store: incremental.CursorStore | None = None,
    on_batch: Callable[[int], None] | None = None,
    variables: incremental.VariableStore | None = None,
) -> dict[str, Any]:
    """Load the staged input into the table in one transaction; then commit the input's cursors.

    Returns ``{"uri": "postgresql://<conn_id>/<schema>.<table>", "rows": <input rows>, "mode": ...}``.
    ``on_batch`` (tests) is called with the rows sent so far after each batch. Incremental sources
    upstream (``engine.incremental_load``): an interval is replaced (append), a cursor's rows already
    loaded are dropped and its new state written in the same transaction. ``variables`` (tests): where
    Airflow Variables are read and written.
    """
    logger = get_log(log)
    owner = node_label(DESTINATION, node_id)
    if len(handles) != 1:
        raise LogiDataTaskError(
            f"{owner}: needs exactly 1 input, got {len(handles)}; connect one upstream node"
        )
    target = Target.of(config)
    loads = DestinationIncremental(
        handles, destination=node_id, module=DESTINATION, owner=owner, log=logger, variables=variables
    )
    started = time.monotonic()
    with (
        staging.read_staged(handles[0], owner=owner) as reader,
        connect(config.conn_id, owner=owner, node_id=node_id) as con,
    ):
        warn_about_role(con, config.conn_id, owner, logger)
        check_input_names(reader.schema.names, owner)
        loaded: list[tuple[str, str, str]] = []  # filled by prepare_target: lets an error name the column
        try:
            with con.transaction():
                reader = loads.begin_postgres(con, config, reader, node_id)
                incoming = StagedRows(con, handles[0], reader, node_id, logger, on_batch)
                prepared = prepare_target(
                    con, config, reader.schema, target, owner, node_id, logger, loaded, incoming
                )
                into, rows = _write_rows(
                    con, config, prepared, incoming, reader, owner, node_id, logger, loaded
                )
                how = finalize(con, config, prepared, into, rows, owner, node_id, logger)
                loads.commit_postgres(con, config.schema_name)
        except psycopg.Error as error:
            raise _load_error(error, owner=owner, target=target.text, loaded=loaded) from None
        except (pa.ArrowException, OSError) as error:
            raise LogiDataTaskError(
                f"{owner}: failed reading the staged input: {error}; clear the upstream task to stage it "
                f"again. Nothing was written: {target.text} is unchanged."
            ) from None
    seconds = time.monotonic() - started
    logger.info(
        f"{node_id}: loaded {rows} rows into {target.text} ({config.mode}{how}) in {seconds:.2f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s)"
    )
    loads.after_commit()
    incremental.commit_cursors(handles, owner=owner, log=logger, store=cursor_store)
    return {
        "uri": f"postgresql://{config.conn_id}/{config.schema_name}.{config.table}",
        "rows": rows,
        "mode": config.mode,
    }


class StagedRows(pg_contract.IncomingRows):
    """ETL's input for the type contract: the staged batches, typed by ``pg_type_for``.

    Copied into a temporary table with those types (``relation``) only when a value must be checked in
    SQL or converted by PostgreSQL's cast; otherwise the batches are COPYed straight into the table.
    """

    def __init__(
        self,
        con: psycopg.Connection[Any],
        handle: staging.StagingHandle,
        reader: pa.RecordBatchReader,
        node_id: str,
        log: TaskLog,
        on_batch: Callable[[int], None] | None,
    ) -> None:
        super().__init__({f.name: pg_type_for(f.type) for f in reader.schema})
        self.con, self.handle, self.reader = con, handle, reader
        self.node_id, self.log, self.on_batch = node_id, log, on_batch
        self.table: str | None = None
        self.row_column = "__logidata_row"
        self.rows = 0

    def proven(self, bounds: Mapping[str, pg_types.Bound]) -> set[str]:
        return pg_contract.arrow_proof(self.handle, bounds)

    def relation(self, names: Sequence[str]) -> sql.Composable:
        if self.table is None:
            while self.row_column in names:
                self.row_column += "_"
            table = f"logidata_input_{uuid.uuid4().hex[:8]}"
            definitions = [
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(self.types[name]))  # type: ignore[arg-type]
                for name in names
            ]
            definitions.append(
                sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY").format(sql.Identifier(self.row_column))
            )
            self.con.execute(
                sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                    sql.Identifier(table), sql.SQL(", ").join(definitions)
                )
            )
            self.rows = _copy_columns(
                self.con,
                sql.Identifier(table),
                f"the temporary table {table} (the input's own types, to check them)",
                [(name, name, self.types[name]) for name in names],
                self.reader,
                self.node_id,
                self.log,
                self.on_batch,
            )
            self.table = table
        return sql.Identifier(self.table)


def _write_rows(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    prepared: PreparedTarget,
    incoming: StagedRows,
    reader: pa.RecordBatchReader,
    owner: str,
    node_id: str,
    log: TaskLog,
    loaded: list[tuple[str, str, str]],
) -> tuple[LoadInto, int]:
    """COPY straight into the table when the type contract allows it, else convert from the input's
    own types in a temporary table (``write_converted``)."""
    if prepared.plan.direct and incoming.table is None:
        into = open_destination(con, config, prepared, node_id, log)
        return into, _copy(con, into, prepared, reader, node_id, log, incoming.on_batch)
    relation = incoming.relation([name for name, _c, _t in prepared.plan.columns])
    started = time.monotonic()
    into, rows = write_converted(
        con, config, prepared, relation, owner, node_id, log, loaded, order_by=incoming.row_column
    )
    log.info(
        f"{node_id}: converted {rows} rows into {into.text} with PostgreSQL's casts in "
        f"{time.monotonic() - started:.2f} s (types the input does not share with the table)"
    )
    return into, rows


def write_converted(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    prepared: PreparedTarget,
    relation: sql.Composable,
    owner: str,
    node_id: str,
    log: TaskLog,
    loaded: list[tuple[str, str, str]],
    *,
    order_by: str | None = None,
) -> tuple[LoadInto, int]:
    """Open the destination and ``insert_select`` the input, checking the type contract on the way.

    Shared by ETL and ELT. With columns to check (``plan.pending``) the insert runs guarded, in a
    savepoint: the first value that would change stops it (no extra read in the common case where none
    does). Then ``pg_contract.enforce`` finds the value, widens the column (evolve) or refuses, and the
    insert runs again. A value that cannot be converted at all (text an integer column cannot read) is
    refused naming its column, types and value (``pg_contract.refuse_unstorable``).
    """
    plan = prepared.plan
    if plan.pending:
        pg_contract.create_guard(con)
        try:
            with con.transaction():
                into = open_destination(con, config, prepared, node_id, log)
                return into, insert_select(con, into, prepared, relation, order_by=order_by, guarded=True)
        except psycopg.Error as error:
            if not pg_contract.stopped_by_check(error):
                raise
        pg_contract.enforce(
            con,
            mode=config.on_schema_change,
            plan=plan,
            relation=relation,
            target_sql=prepared.target.sql,
            target_text=prepared.target.text,
            owner=owner,
            node_id=node_id,
            log=log,
        )
        loaded[:] = plan.columns  # with the types of widened columns
    try:
        # A savepoint: a value no check looked at (text an integer column cannot read) stops the insert
        # inside PostgreSQL's cast, whose error names no column; refuse_unstorable then names it.
        with con.transaction():
            into = open_destination(con, config, prepared, node_id, log)
            return into, insert_select(con, into, prepared, relation, order_by=order_by)
    except psycopg.Error as error:
        if not pg_contract.stopped_by_check(error):
            raise
        pg_contract.refuse_unstorable(
            con, plan=plan, relation=relation, target_text=prepared.target.text, owner=owner
        )
        raise


def insert_select(
    con: psycopg.Connection[Any],
    into: LoadInto,
    prepared: PreparedTarget,
    relation: sql.Composable,
    *,
    order_by: str | None = None,
    guarded: bool = False,
) -> int:
    """``INSERT INTO <into> SELECT <each input column converted by its type rule> FROM <relation>``.

    Shared by ETL (from the temporary table of the input's own types) and ELT (from the pushed-down
    SELECT). ``order_by``: a column of ``relation`` giving the input order, kept where it matters (a
    merge's staging table). ``guarded``: the ``plan.pending`` columns stop the statement on the first
    value that would change (``pg_contract.guarded_sql``).
    """
    from airflow_provider_logidata.engine.sql import quote_ident

    plan = prepared.plan
    values = []
    for name, column, type_sql in plan.columns:
        value = f"q.{quote_ident(name)}"
        rule = plan.rules.get(column)
        if guarded and rule is not None and column in plan.pending:
            values.append(pg_contract.guarded_sql(rule, column, value))
        else:
            values.append(plan.convert_sql(name, column, type_sql, value))
    order = ""
    if order_by is not None and into.kind == "stage":
        order = f" ORDER BY q.{quote_ident(order_by)}"
    cur = con.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} AS q{}").format(
            into.relation,
            prepared.columns_sql,
            sql.SQL(", ".join(values)),  # type: ignore[arg-type]
            relation,
            sql.SQL(order),  # type: ignore[arg-type]
        )
    )
    return cur.rowcount


def _copy(
    con: psycopg.Connection[Any],
    into: LoadInto,
    prepared: PreparedTarget,
    reader: pa.RecordBatchReader,
    node_id: str,
    log: TaskLog,
    on_batch: Callable[[int], None] | None,
) -> int:
    """COPY the input into ``into``: binary when every column has an exact binary form, else CSV."""
    return _copy_columns(con, into.relation, into.text, prepared.plan.columns, reader, node_id, log, on_batch)


def _copy_columns(
    con: psycopg.Connection[Any],
    relation: sql.Composable,
    text: str,
    columns: list[tuple[str, str, str]],
    reader: pa.RecordBatchReader,
    node_id: str,
    log: TaskLog,
    on_batch: Callable[[int], None] | None,
) -> int:
    """COPY the input's ``columns`` (input name, column name, column type) into ``relation``."""
    input_names = [input_name for input_name, _n, _t in columns]
    fields = {f.name: f.type for f in reader.schema}
    plan = pg_copy.binary_plan([(fields[i], type_sql) for i, _n, type_sql in columns])
    if plan is not None:
        fmt = "binary"

        def encode(batch: pa.RecordBatch) -> Any:
            return pg_copy.encode_binary(batch.select(input_names), plan)
    else:
        fmt = "csv"

        def encode(batch: pa.RecordBatch) -> Any:
            return pg_copy.encode_csv(_csv_ready(batch.select(input_names)))

    progress = Progress(log, node_id, verb="sent")
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        relation, sql.SQL(", ").join(sql.Identifier(name) for _i, name, _t in columns), sql.SQL(fmt)
    )
    with con.cursor() as cur, cur.copy(statement) as copy:
        if plan is not None:
            copy.write(pg_copy.BINARY_HEADER)
        # closing(): a failed write stops the encoder thread before the transaction is rolled back.
        with contextlib.closing(pg_copy.encoded_in_background(reader, encode)) as chunks:
            for rows, data in chunks:
                copy.write(data)
                progress.add(rows)
                if on_batch is not None:
                    on_batch(progress.rows)
        if plan is not None:
            copy.write(pg_copy.BINARY_TRAILER)
    seconds = progress.elapsed()
    log.info(
        f"{node_id}: copied {progress.rows} rows into {text} in {seconds:.2f} s "
        f"({progress.rows / max(seconds, 1e-9):,.0f} rows/s, COPY format {fmt})"
    )
    return progress.rows


# --- destination steps shared with ELT (engine.elt) -------------------------------------------------


@dataclass(frozen=True)
class Target:
    schema: str
    table: str

    @classmethod
    def of(cls, config: PostgresDestinationConfig) -> Target:
        return cls(config.schema_name, config.table)

    @property
    def text(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def sql(self) -> sql.Composable:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.table))


@dataclass
class PreparedTarget:
    """The target after ``prepare_target``: it exists, has every column to load, and the keys resolved."""

    target: Target
    plan: LoadPlan
    keys: list[str]  # merge keys, as the table's column names
    created: bool  # created by this transaction
    oid: int | None  # None when created
    existing: list[TargetColumn]

    @property
    def table_names(self) -> list[str]:
        return [name for _i, name, _t in self.plan.columns]

    @property
    def columns_sql(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(name) for name in self.table_names)


@dataclass(frozen=True)
class LoadInto:
    """Where the rows are written: the target itself, a replacement table swapped in, or a temp table."""

    relation: sql.Composable
    text: str
    kind: str  # "target" | "swap" | "stage"
    name: str = ""  # swap and stage: the table's name
    row_column: str = ""  # stage: the identity column giving the input order


def check_input_names(names: Sequence[str], owner: str) -> None:
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise LogiDataTaskError(
            f"{owner}: the input has several columns named {', '.join(map(repr, duplicates))}; "
            "rename them upstream (select_columns)"
        )


def prepare_target(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    schema: pa.Schema,
    target: Target,
    owner: str,
    node_id: str,
    log: TaskLog,
    loaded: list[tuple[str, str, str]],
    incoming: pg_contract.IncomingRows | None = None,
) -> PreparedTarget:
    """Create the table or apply ``on_schema_change`` to it, plan the columns and resolve the merge keys.

    ``loaded`` receives the planned columns as soon as they are known, so a failing load can name one.
    ``incoming``: the input's rows with their own PostgreSQL types (ETL: the staged batches, ELT: the
    pushed-down SELECT); with it, ``plan.pending`` lists the existing columns whose values the load must
    check (``write_converted``) and ``plan.direct`` says whether ETL may COPY straight into the table.
    """
    text = target.text
    found = _target(con, target.schema, target.table)
    keys = list(config.keys or [])
    if found is None:
        if not config.create_table:
            raise LogiDataTaskError(
                f"{owner}: table {text} does not exist and create_table is false; create the table, fix "
                "table/schema in the node's config, or set create_table to true"
            )
        missing_keys = [k for k in keys if k not in schema.names]
        if missing_keys:
            raise LogiDataTaskError(
                f"{owner}: merge key(s) {', '.join(map(repr, missing_keys))} are not input columns "
                f"({', '.join(schema.names)}); fix keys in the node's config"
            )
        plan = plan_load(config, schema, None, owner=owner, target=text)
        con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
        definitions = [
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_sql))  # type: ignore[arg-type]
            for _i, name, type_sql in plan.columns
        ]
        if keys:
            definitions.append(
                sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, keys)))
            )
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(target.sql, sql.SQL(", ").join(definitions)))
        log.info(
            f"{node_id}: created table {text} ({len(plan.columns)} columns"
            + (f", primary key {', '.join(keys)})" if keys else ")")
        )
        prepared = PreparedTarget(target, plan, keys, created=True, oid=None, existing=[])
    else:
        oid, relkind, existing = found
        if relkind not in ("r", "p"):
            raise LogiDataTaskError(
                f"{owner}: {text} is not a table (relkind {relkind!r}: a view or other relation); load "
                "into a table"
            )
        types = incoming.types if incoming is not None else None
        plan = plan_load(config, schema, existing, owner=owner, target=text, incoming=types)
        for name, type_sql in plan.add:
            con.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    target.sql,
                    sql.Identifier(name),
                    sql.SQL(type_sql),  # type: ignore[arg-type]
                )
            )
        if plan.add:
            log.info(f"{node_id}: added column(s) to {text}: " + ", ".join(f"{n} {t}" for n, t in plan.add))
        if plan.dropped:
            log.warning(
                f"{node_id}: input column(s) not in {text}, not loaded (discard): {', '.join(plan.dropped)}"
            )
        prepared = PreparedTarget(target, plan, keys, created=False, oid=oid, existing=existing)
    loaded[:] = plan.columns
    if keys:
        table_names = prepared.table_names
        resolved = []
        for key in keys:
            match = [name for name in table_names if name == key] or [
                name for name in table_names if name.lower() == key.lower()
            ]
            if len(match) != 1:
                raise LogiDataTaskError(
                    f"{owner}: merge key {key!r} is not among the columns loaded into {text} "
                    f"({', '.join(table_names)}); fix keys in the node's config. {text} is unchanged."
                )
            resolved.append(match[0])
        prepared.keys = resolved
    if incoming is not None and not prepared.created:
        pg_contract.prepare(plan, incoming)
    return prepared


def open_destination(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    prepared: PreparedTarget,
    node_id: str,
    log: TaskLog,
) -> LoadInto:
    """Where the rows go, so that each is written once wherever the mode allows it.

    append, and replace of a table this transaction created: the target itself (the transaction makes it
    atomic). replace of an existing table: a new table swapped in by ``finalize`` (``engine.pg_swap``), or,
    when the table has things a swap would lose, a temporary table. merge: a temporary table (dropped at
    commit, gone with the session if the process dies) with the input order, to deduplicate on the keys.
    """
    target = prepared.target
    if config.mode == "append" or (config.mode == "replace" and prepared.created):
        return LoadInto(target.sql, target.text, "target")
    if config.mode == "replace":
        assert prepared.oid is not None
        blocker = pg_swap.why_not_swappable(con, prepared.oid)
        if blocker is None:
            name = _staging_table_name(target.table)
            relation = pg_swap.create_like(con, prepared.oid, target.sql, target.schema, name)
            return LoadInto(relation, f"the new table {target.schema}.{name}", "swap", name=name)
        log.info(
            f"{node_id}: replacing {target.text} through a temporary table and TRUNCATE + INSERT (not a "
            f"table swap: {blocker})"
        )
    stage = _staging_table_name(target.table)
    row_column = "__logidata_row"
    while row_column in prepared.table_names:
        row_column += "_"
    definitions = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_sql))  # type: ignore[arg-type]
        for _i, name, type_sql in prepared.plan.columns
    ]
    definitions.append(sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY").format(sql.Identifier(row_column)))
    relation = sql.Identifier(stage)
    con.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(relation, sql.SQL(", ").join(definitions))
    )
    return LoadInto(relation, f"the temporary table {stage}", "stage", name=stage, row_column=row_column)


def finalize(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    prepared: PreparedTarget,
    into: LoadInto,
    rows: int,
    owner: str,
    node_id: str,
    log: TaskLog,
) -> str:
    """Apply what was written to the target; returns how, for the log (``""``, ``", table swap"``, ...)."""
    target = prepared.target
    if config.mode == "replace" and rows == 0:
        log.warning(f"{node_id}: the input has no rows: {target.text} is now empty (mode replace)")
    if into.kind == "target":
        return ""
    if into.kind == "swap":
        assert prepared.oid is not None
        started = time.monotonic()
        old = _staging_table_name(target.table)
        pg_swap.swap(con, prepared.oid, target.sql, target.schema, target.table, into.name, old)
        seconds = time.monotonic() - started
        log.info(f"{node_id}: swapped the new table in for {target.text} in {seconds:.2f} s")
        return ", table swap"
    if config.mode == "replace":
        con.execute(sql.SQL("TRUNCATE {}").format(target.sql))
        con.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                target.sql, prepared.columns_sql, prepared.columns_sql, into.relation
            )
        )
        return ", truncate + insert"
    return _merge(con, prepared, into, owner, log, node_id)


def _merge(
    con: psycopg.Connection[Any],
    prepared: PreparedTarget,
    into: LoadInto,
    owner: str,
    log: TaskLog,
    node_id: str,
) -> str:
    target_sql, stage_sql, keys = prepared.target.sql, into.relation, prepared.keys
    target, table_names = prepared.target.text, prepared.table_names
    key_sql = sql.SQL(", ").join(map(sql.Identifier, keys))
    null_keys = con.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            stage_sql, sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(k)) for k in keys)
        )
    ).fetchone()
    if null_keys and null_keys[0]:
        raise LogiDataTaskError(
            f"{owner}: {null_keys[0]} input row(s) have a null merge key ({', '.join(keys)}); a row "
            f"without a key cannot be merged. Filter or fill them upstream. Nothing was written: {target} "
            "is unchanged."
        )
    columns_sql = prepared.columns_sql
    # Incoming duplicates on the keys: the last row wins.
    latest = sql.SQL("SELECT DISTINCT ON ({keys}) {cols} FROM {stage} ORDER BY {keys}, {row} DESC").format(
        keys=key_sql, cols=columns_sql, stage=stage_sql, row=sql.Identifier(into.row_column)
    )
    others = [name for name in table_names if name not in keys]
    oid = prepared.oid
    if prepared.created or (oid is not None and _unique_key_index(con, oid, prepared.existing, keys)):
        action = (
            sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in others)
            )
            if others
            else sql.SQL("DO NOTHING")
        )
        con.execute(
            sql.SQL("INSERT INTO {} ({}) {} ON CONFLICT ({}) {}").format(
                target_sql, columns_sql, latest, key_sql, action
            )
        )
        return ", on conflict update"
    log.info(
        f"{node_id}: {target} has no unique index on ({', '.join(keys)}): merging with UPDATE + INSERT "
        "under a table lock; a unique index on the keys makes merges faster"
    )
    con.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(target_sql))
    latest_name = sql.Identifier(f"logidata_latest_{uuid.uuid4().hex[:8]}")
    con.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}").format(latest_name, latest))
    con.execute(sql.SQL("ANALYZE {}").format(latest_name))
    match = sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in keys)
    if others:
        con.execute(
            sql.SQL("UPDATE {} AS t SET {} FROM {} AS s WHERE {}").format(
                target_sql,
                sql.SQL(", ").join(sql.SQL("{0} = s.{0}").format(sql.Identifier(n)) for n in others),
                latest_name,
                match,
            )
        )
    con.execute(
        sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} AS s WHERE NOT EXISTS (SELECT 1 FROM {} AS t WHERE {})"
        ).format(
            target_sql,
            columns_sql,
            sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(n)) for n in table_names),
            latest_name,
            target_sql,
            match,
        )
    )
    return ", update + insert"


@register_destination(DESTINATION)
def run_postgres_destination(
    config: ModuleConfig, node_id: str, handles: Sequence[staging.StagingHandle], log: TaskLog
) -> dict[str, Any]:
    if not isinstance(config, PostgresDestinationConfig):
        raise TypeError(f"{DESTINATION} expects PostgresDestinationConfig, got {type(config).__name__}")
    return load_postgres(config, node_id, handles, log)
