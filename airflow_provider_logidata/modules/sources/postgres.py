"""source.postgres: read a PostgreSQL table or one SELECT through an Airflow ``postgres`` connection.

The connection holds host, port, database (its ``schema`` field), login and password; the node's config
holds only what to read. The read runs ``COPY (SELECT ...) TO STDOUT`` and turns the rows into Arrow
batches as they arrive, in a read-only transaction (``engine.pg_connect``: connection, confinement, the
role warning, PostgreSQL's errors worded for the task log; ``engine.pg_read_plan``: columns, types and the
incremental filter; ``engine.pg_read``: the stream). The engine is imported when a task reads, never when
the DAG processor reads this file.

Incremental reads (``incremental``):

* ``data_interval``: rows whose column lies in the run's data interval ``[start, end)``, so backfills and
  reruns read exactly the same rows. With a trigger timetable (Airflow 3's default for cron schedules,
  whose runs have a zero-length interval) the interval is ``[previous scheduled time, this run's time)``.
  A PostgreSQL destination in mode ``append`` replaces exactly that interval (delete and insert in one
  transaction); a file destination writes one file or partition per interval (validated).
* ``cursor``: every destination fed by the source keeps its own cursor: the largest value it loaded and
  the rows it loaded at that value. The source reads ``column >=`` the smallest of them; each destination
  drops the rows it already holds and commits its cursor with its rows (PostgreSQL: same transaction,
  table ``logidata_cursor_state``; files: Airflow Variable right after the atomic write). A destination
  that fails keeps its cursor and gets the rows on the next run; the others never load them twice. See
  ``engine.incremental``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, PostgresConnId
from airflow_provider_logidata.modules.pg_relation import check_relation
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog


class PostgresIncremental(ModuleConfig):
    """Read only new rows: by the run's data interval, or from the last committed cursor value."""

    column: ColumnName = Field(
        description="Column compared: a date or timestamp for data_interval; any orderable column (an "
        "updated_at timestamp, an increasing id) for cursor. It must be among the columns read."
    )
    mode: Literal["data_interval", "cursor"] = Field(
        description="data_interval: rows with data_interval_start <= column < data_interval_end; an "
        "appending PostgreSQL destination replaces that interval, so reruns and backfills never double it. "
        "cursor: new rows since each destination's own cursor (the largest value it loaded); rows already "
        "loaded, those tied on the cursor value included, are never loaded twice."
    )
    initial_value: str | int | float | None = Field(
        None,
        description="cursor mode: where a destination without a cursor yet starts (inclusive), e.g. "
        "2024-01-01 or 1000. Default: read everything.",
    )

    @model_validator(mode="after")
    def _initial_value_for_cursor(self) -> PostgresIncremental:
        if self.initial_value is not None and self.mode != "cursor":
            raise ValueError("initial_value applies to mode 'cursor' only; remove it for 'data_interval'")
        return self


class PostgresSourceConfig(ModuleConfig):
    """Read a PostgreSQL table or the result of one SELECT, streamed in batches."""

    model_config = ConfigDict(serialize_by_alias=True)

    conn_id: PostgresConnId
    table: str | None = Field(
        None,
        min_length=1,
        max_length=63,
        description="Table or view to read (exact name, case-sensitive). Or set query.",
    )
    schema_name: str | None = Field(
        None,
        alias="schema",
        min_length=1,
        max_length=63,
        description="Schema of the table (default: the connection's search_path, usually public).",
    )
    columns: list[ColumnName] | None = Field(
        None, description="Table columns to read, in this order (default: all)."
    )
    query: str | None = Field(
        None,
        min_length=1,
        max_length=100_000,
        description="One SELECT statement (instead of table), run read-only. Templated: {{ ds }} works.",
        json_schema_extra={"x-logidata-widget": "sql"},
    )
    incremental: PostgresIncremental | None = Field(
        None, description="Read only new rows (see PostgresIncremental). Default: read everything."
    )
    batch_rows: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Rows per batch streamed from the server (default: [logidata] batch_rows).",
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("set exactly one of table or query")
        check_relation(self.table, self.schema_name, write=False)
        if self.query is not None:
            if self.schema_name is not None or self.columns is not None:
                raise ValueError("schema and columns apply to table only; with query, select in the query")
            from airflow_provider_logidata.security.pg_sql import check_pg_sql

            # A templated query ({{ ds }}): its functions now, the whole statement once rendered.
            check_pg_sql(self.query, kind="query")
        if self.columns is not None:
            if not self.columns:
                raise ValueError("columns must not be empty; leave it out to read every column")
            duplicates = sorted({name for name in self.columns if self.columns.count(name) > 1})
            if duplicates:
                raise ValueError(f"columns lists {', '.join(map(repr, duplicates))} more than once")
        return self


def check_select(query: str, *, writable: bool = False) -> str:
    """``query`` without its trailing ``;`` if it is exactly one SELECT statement; ``ValueError`` otherwise.

    Parsed with sqlglot's PostgreSQL dialect (``security.pg_sql``). Accepted: SELECT, VALUES, set
    operations (UNION, ...) and WITH ... SELECT. Refused: several statements, anything else (INSERT, DDL,
    COPY, DO, CALL, SET, ...), SELECT ... INTO (it creates a table), data-modifying WITH clauses, and
    functions that reach the database server's files, processes, configuration or other servers
    (``pg_read_file``, ``lo_export``, ``dblink``, ...: ``PolicyError``, a ``ValueError``, rule
    ``pg-function``). Called at validation and again on the rendered query before it runs, which also
    runs in a read-only transaction that is rolled back. ``writable``: the query runs inside a read-write
    transaction (ELT pushes it into its ``INSERT ... SELECT``): ``nextval``/``setval`` are refused too.
    """
    from airflow_provider_logidata.security.pg_sql import check_pg_select

    return check_pg_select(query, writable=writable)


def open_source(
    config: ModuleConfig, node_id: str, log: TaskLog
) -> AbstractContextManager[pa.RecordBatchReader]:
    """Reads that are not incremental; an incremental read runs through ``PostgresSourceOperator``."""
    from airflow_provider_logidata.engine.pg_read import open_postgres_source

    return open_postgres_source(config, node_id, log)


MODULE = ModuleDef(
    name="source.postgres",
    category="source",
    label="PostgreSQL",
    description="Read a PostgreSQL table or query, streamed; optionally only new rows (incremental).",
    config_model=PostgresSourceConfig,
    operator="airflow_provider_logidata.operators.postgres.PostgresSourceOperator",
    min_inputs=0,
    max_inputs=0,
    icon="database",
    duckdb=open_source,
)
