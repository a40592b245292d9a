"""What every ELT step builder shares: the step's context (``EltContext``: connection, config, typed input
columns, the SQL dialect and what the builder runs through it while compiling), ``describe`` (a SELECT's
columns without running it), ``read_only_step`` (where the user's SQL is looked at) and
``check_bad_values``.

A builder is a module's ``elt`` (``modules/transforms/<name>.py``): ``build(ctx, relation, columns) ->
SELECT``, mirroring its DuckDB builder, written against ``ctx.dialect`` (``engine.dialects``): every
identifier through ``ctx.dialect.ident``, every text through ``ctx.dialect.literal``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql

from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.pg_connect import pg_error
from airflow_provider_logidata.engine.pg_read_plan import plan_column
from airflow_provider_logidata.engine.sql import resolve_column

C = TypeVar("C", bound="ModuleConfig")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.base import ModuleConfig

Columns = list[tuple[str, str]]  # (name, the type as the dialect describes it)


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
            raise LogiDataTaskError(f"{owner}: PostgreSQL rejects the step: {pg_error(error)}") from None
        assert cur.description is not None
        return [
            Described(c.name, c.type_code, _type_name(c.type_display or "text"), c.precision, c.scale)
            for c in cur.description
        ]


def _postgres() -> SqlDialect:
    from airflow_provider_logidata.engine.dialects import dialect

    return dialect("postgres")


@dataclass
class EltContext:
    con: psycopg.Connection[Any]
    module: str
    node_id: str
    config: ModuleConfig
    log: TaskLog
    helpers: dict[str, str] = field(default_factory=dict)  # helper (function, table) name -> its CREATE
    inputs: list[Described] = field(default_factory=list)  # the step's input columns, fully typed
    keep_order: bool = True  # something downstream observes the row order (``engine.elt.EltStep``)
    dialect: SqlDialect = field(default_factory=_postgres)

    @property
    def owner(self) -> str:
        return node_label(self.module, self.node_id)

    def error(self, message: str) -> LogiDataTaskError:
        return LogiDataTaskError(f"{self.owner}: {message}")

    def typed_config(self, model: type[C]) -> C:
        if not isinstance(self.config, model):
            raise TypeError(f"{self.owner}: expected a {model.__name__}, got {type(self.config).__name__}")
        return self.config

    def column(self, name: str, columns: Columns) -> tuple[str, str]:
        return resolve_column(name, columns, owner=self.owner)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """A small read-only query's rows (a pre-check, a statistic): a failing one fails the step only."""
        rows = self.dialect.rows(self.con, query)
        if isinstance(rows, str):
            raise self.error(f"{self.dialect.label} rejects the step: {rows}")
        return rows

    def describe(self, select: str) -> list[Described]:
        return self.dialect.describe(self.con, select, self.owner)

    def probe(self, select: str, what: str, fix: str) -> None:
        """Bind ``select`` without running it: a config the database cannot compile (a key type it cannot
        compare, an expression it rejects) names ``what`` and the ``fix`` up front."""
        complaint = self.dialect.probe(self.con, select)
        if complaint is not None:
            raise self.error(f"{self.dialect.label} rejects {what}: {complaint}; {fix}")

    def function(self, name: str, create: str) -> str:
        """The helper function ``name``, created by ``create`` on first use in this run (kept in
        ``helpers`` for the task log)."""
        qualified = self.dialect.function(self.con, name, None if name in self.helpers else create)
        self.helpers.setdefault(name, create)
        return qualified

    def temp_table(self, name: str, select: str) -> str:
        """``select`` materialised until the load commits (read by several outputs); its relation."""
        relation, create = self.dialect.temp_table(self.con, name, select)
        self.helpers[f"table {name}"] = create
        return relation


def check_bad_values(
    ctx: EltContext, relation: str, checks: list[tuple[str, str, str]], *, on_error: str, fix: str
) -> None:
    """``engine.transforms.check_bad_values`` inside the database, for ``(column, SQL true where its value is
    bad, what is wrong)``: count every check in one scan, then fail with up to five distinct examples per
    column (input order) or, with ``on_error = null``, log the counts (the step nulls those values)."""
    from airflow_provider_logidata.engine.transforms import EXAMPLES

    if not checks:
        return
    d = ctx.dialect
    counts = ctx.rows(
        "SELECT " + ", ".join(d.count_where(bad) for _c, bad, _p in checks) + f" FROM {relation} AS s"
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
            f"SELECT {d.cast(d.ident(column), d.text)} FROM {relation} AS s WHERE {bad} LIMIT 100"
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


def empty_table(columns: list[Described]) -> pa.Table:
    """No rows of ``columns``' Arrow types. ``Schema.empty_table()`` would import pandas (about 0.4 s
    of every ELT task's start), ``from_batches`` does not."""
    return pa.Table.from_batches([], schema=arrow_schema(columns))


def arrow_schema(final: list[Described]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(c.name, plan_column(c.name, c.oid, c.type_sql, c.precision, c.scale).arrow_type)
            for c in final
        ]
    )
