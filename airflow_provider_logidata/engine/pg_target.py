"""The destination's steps inside its transaction, shared by ETL (``engine.pg_load``) and ELT
(``engine.elt``): prepare the target (create the table or apply ``on_schema_change``, resolve the merge
keys), open where the rows go (the target, a new table to swap in, or a temporary table), write rows
converted by PostgreSQL under the type contract (``write_converted``, ``insert_select``), and word a failed
load (``load_error``). ``engine.pg_finalize`` then applies what was written.

Every identifier goes through ``psycopg.sql.Identifier`` and every value through ``psycopg.sql.Literal``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from airflow_provider_logidata.engine import pg_contract, pg_swap
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_connect import pg_error
from airflow_provider_logidata.engine.pg_load_plan import LoadPlan, TargetColumn, find_target, plan_load

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

DESTINATION = "destination.postgres"


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
    found = find_target(con, target.schema, target.table)
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
            name = staging_table_name(target.table)
            relation = pg_swap.create_like(con, prepared.oid, target.sql, target.schema, name)
            return LoadInto(relation, f"the new table {target.schema}.{name}", "swap", name=name)
        log.info(
            f"{node_id}: replacing {target.text} through a temporary table and TRUNCATE + INSERT (not a "
            f"table swap: {blocker})"
        )
    stage = staging_table_name(target.table)
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


_COPY_CONTEXT = re.compile(r"line (\d+), column (.*)$", re.DOTALL)


def load_error(
    error: psycopg.Error, *, owner: str, target: str, loaded: list[tuple[str, str, str]]
) -> LogiDataTaskError:
    diag = error.diag
    state = error.sqlstate or ""
    cause = pg_error(error)
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


def staging_table_name(table: str) -> str:
    suffix = f"__logidata_{uuid.uuid4().hex[:8]}"
    head = table.encode("utf-8")[: 63 - len(suffix)].decode("utf-8", "ignore")
    return head + suffix
