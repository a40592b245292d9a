"""``source.postgres`` and ``destination.postgres``: PostgreSQL through an Airflow ``postgres`` connection.

The connection holds host, port, database (its ``schema`` field), login and password; the node's config
holds only what to read or where to write. Both stream: the source runs ``COPY (SELECT ...) TO STDOUT``
and turns the rows into Arrow batches as they arrive, the destination streams the staged batches into
``COPY ... FROM STDIN`` of a temporary table and applies them to the target in the same transaction.
See ``engine.postgres``.

Incremental reads (``source.postgres`` ``incremental``):

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

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef


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

    conn_id: str = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection of type postgres (host, port, database, login, password).",
        json_schema_extra={"x-logidata-widget": "connection", "x-logidata-conn-type": "postgres"},
    )
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


class PostgresDestinationConfig(ModuleConfig):
    """Load into a PostgreSQL table in one transaction: append, replace or merge on keys."""

    model_config = ConfigDict(serialize_by_alias=True)

    conn_id: str = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection of type postgres (host, port, database, login, password).",
        json_schema_extra={"x-logidata-widget": "connection", "x-logidata-conn-type": "postgres"},
    )
    table: str = Field(min_length=1, max_length=63, description="Target table (exact name, case-sensitive).")
    schema_name: str = Field(
        "public", alias="schema", min_length=1, max_length=63, description="Schema of the target table."
    )
    mode: Literal["append", "replace", "merge"] = Field(
        "append",
        description="append: add the rows. replace: the table holds exactly the new rows. merge: update rows "
        "whose keys exist, insert the others (incoming duplicates on keys: the last one wins).",
    )
    keys: list[ColumnName] | None = Field(
        None, description="merge: the columns identifying a row (a unique index on them makes merge fast)."
    )
    on_schema_change: Literal["evolve", "fail", "discard"] = Field(
        "evolve",
        description="When the input's columns differ from the table's. evolve: add new columns to the "
        "table. fail: stop with the differences. discard: load only the table's columns. Table columns "
        "missing from the input get their default (null) in every mode but fail.",
    )
    create_table: bool = Field(
        True,
        description="Create the table (and schema) from the input's columns when it does not exist; with "
        "merge it gets a primary key on keys.",
    )

    @model_validator(mode="after")
    def _keys_for_merge(self) -> PostgresDestinationConfig:
        check_relation(self.table, self.schema_name, write=True)
        if self.mode == "merge":
            if not self.keys:
                raise ValueError("mode 'merge' needs keys: the columns identifying a row, e.g. ['id']")
            duplicates = sorted({name for name in self.keys if self.keys.count(name) > 1})
            if duplicates:
                raise ValueError(f"keys lists {', '.join(map(repr, duplicates))} more than once")
        elif self.keys is not None:
            raise ValueError(
                f"keys apply to mode 'merge' only; remove them or set mode to 'merge' (not {self.mode!r})"
            )
        return self


# Schemas of the server's own catalogs: never a pipeline's destination.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def check_relation(table: str | None, schema: str | None, *, write: bool) -> None:
    """A table a node names directly: not a catalog holding credentials, and no write into a system
    schema (``security.pg_sql``: a superuser connection could otherwise read password hashes or rewrite
    the catalogs)."""
    from airflow_provider_logidata.security.errors import PolicyError
    from airflow_provider_logidata.security.pg_sql import DENIED_RELATIONS

    if table is not None and table.lower() in DENIED_RELATIONS:
        raise PolicyError(
            f"table {table!r} {DENIED_RELATIONS[table.lower()]}; read and write your own tables",
            rule="pg-relation",
        )
    if (
        write
        and schema is not None
        and (schema.lower() in SYSTEM_SCHEMAS or schema.lower().startswith("pg_"))
    ):
        raise PolicyError(
            f"schema {schema!r} holds the database's own catalogs; write to a schema of your own",
            rule="pg-relation",
        )


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


_OPS = "airflow_provider_logidata.operators.postgres"

MODULES: tuple[ModuleDef, ...] = (
    ModuleDef(
        name="source.postgres",
        category="source",
        label="PostgreSQL",
        description="Read a PostgreSQL table or query, streamed; optionally only new rows (incremental).",
        config_model=PostgresSourceConfig,
        operator=f"{_OPS}.PostgresSourceOperator",
        min_inputs=0,
        max_inputs=0,
        icon="database",
    ),
    ModuleDef(
        name="destination.postgres",
        category="destination",
        label="PostgreSQL",
        description="Load into a PostgreSQL table in one transaction: append, replace or merge on keys.",
        config_model=PostgresDestinationConfig,
        operator=f"{_OPS}.PostgresDestinationOperator",
        min_inputs=1,
        max_inputs=1,
        outputs=(),
        icon="database",
    ),
)
