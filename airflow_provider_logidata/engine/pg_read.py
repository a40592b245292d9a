"""The ``source.postgres`` read: PostgreSQL rows streamed into Arrow batches through ``COPY TO``.

``COPY (SELECT <columns> FROM (<table or query>) AS q [WHERE <incremental>]) TO STDOUT`` in CSV, in a
read-only REPEATABLE READ transaction that is rolled back, under ``statement_timeout`` (``confine``,
``engine.pg_connect``), after the query passed ``security.pg_sql`` again (rendered). PostgreSQL sends one
protocol message per row, so rows are gathered ``batch_rows`` at a time and each batch is parsed by
pyarrow's CSV reader with column types taken from the result's PostgreSQL types (``engine.pg_read_plan``);
batches stream into staging. Memory stays at about one batch. Measured on this project's 2-core machine:
read ~500k rows/s.

``open_postgres_source`` is ``source.postgres``'s opener (``modules/sources/postgres.py``).
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine import incremental, staging
from airflow_provider_logidata.engine.cursor_read import CursorRead, cursor_meta
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.pg_connect import (
    confine,
    connect,
    pg_error,
    query_failed,
    statement_timeout_seconds,
    warn_about_role,
)
from airflow_provider_logidata.engine.pg_read_plan import (
    BYTEA,
    SOURCE,
    TEMPORAL_OIDS,
    SourceColumn,
    cursor_condition,
    cursor_start,
    cursor_text,
    describe_select,
    pick_columns,
    plan_column,
    table_select,
)
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig, check_select

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

    from airflow_provider_logidata.modules.base import ModuleConfig

# A batch is cut at batch_rows rows or at this many bytes of CSV, whichever comes first.
MAX_BATCH_BYTES = 64 * 1024 * 1024


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


@contextlib.contextmanager
def open_stream(
    config: PostgresSourceConfig,
    node_id: str,
    log: TaskLog,
    *,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    cursor_from: str | None = None,
    cursor_read: CursorRead | None = None,
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
                base, described = table_select(con, config, owner)
                what = f"table {described}"
            else:
                assert query is not None
                base, described, what = sql.SQL(query), "query", "the query"
            available = describe_select(con, base, owner=owner, what=what)
            names = [name for name, *_ in available]
            picked = pick_columns(names, config.columns, owner=owner, described=described)
            selected = [available[i] for i in picked]
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
                    if column.oid not in TEMPORAL_OIDS:
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
                    cursor_from = cursor_condition(
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
            raise query_failed(
                error,
                owner,
                described,
                f"{owner}: PostgreSQL failed while reading {described}: {pg_error(error)}; fix the query or "
                "the data (a value the query cannot compute, a cast that fails), or cast the column to text",
            ) from None
    stream.stats["batches"] = batches


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
    cursor: CursorRead | None = None,
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
        entry = cursor_meta(
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
