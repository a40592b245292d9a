"""Partial pushdown: a pushed-down sub-graph whose result leaves the database for the engine.

When the rows end up elsewhere (a file, S3, another database) or meet a node PostgreSQL cannot run, the
largest part of the graph that can run there still does (``dag_factory.elt_plan``: the path's *exit*):
the sources' SELECTs and each step's PostgreSQL builder compile to one SELECT (``engine.elt``), and only
its result streams out through ``COPY (...) TO STDOUT``, typed and batched exactly as a
``source.postgres`` read is (``engine.pg_read``), into the exit's staging file. The nodes after it read
that file as they read any node's output.

An exit with several outputs (a route's ``matched``/``unmatched``, a quality_check's ``out``/``rejected``:
:func:`read_elt_ports`) stages each port's SELECT in its own file, where the ETL multi-output operator
stages it (``<task>/<port>/part-00000.parquet``), so ``task_id:port`` inputs downstream read it unchanged.
Its PostgreSQL builder computes its input once for all ports (a temporary table of the flagged rows) and
runs its checks (a quality_check's verdict: fail, warn or quarantine, as in ETL) before any row leaves.

Everything runs in one REPEATABLE READ transaction that is always rolled back: the builders' pre-checks
(failing casts, unknown columns) and the read see one snapshot, and the builders' ``pg_temp`` helper
functions vanish with it. The transaction cannot be read-only (the helpers are created in it), so every
statement running the user's SQL, the read included, runs in a read-only savepoint
(``engine.elt_context.read_only_step``), after the user's SQL passed ``security.pg_sql``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import sql

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine import incremental, staging
from airflow_provider_logidata.engine.cursor_read import cursor_meta
from airflow_provider_logidata.engine.elt import EltStep, compile_all, cursor_source, source_select
from airflow_provider_logidata.engine.elt_context import read_only_step
from airflow_provider_logidata.engine.elt_cursor import largest_read, read_start
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.pg_connect import (
    confine,
    confinement_error,
    connect,
    pg_error,
    statement_timeout_seconds,
    warn_about_role,
)
from airflow_provider_logidata.engine.pg_read import SourceStream, _copy_batches
from airflow_provider_logidata.engine.pg_read_plan import describe_select, plan_column

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    from airflow_provider_logidata.engine.cursor_read import CursorRead
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

WHAT = "the pushed-down SQL"


def read_elt(
    source_id: str,
    source: PostgresSourceConfig,
    steps: list[EltStep],
    output_uri: str,
    *,
    sources: dict[str, PostgresSourceConfig] | None = None,
    log: TaskLog | None = None,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    dag_id: str | None = None,
    cursor: CursorRead | None = None,
) -> staging.StagingHandle:
    """Run the sub-graph ending at ``steps[-1]`` (the exit) in PostgreSQL and stage its result at
    ``output_uri``; returns the staging handle, plus ``"engine": "elt"`` and the SQL that ran.

    ``interval``: the run's data interval, for a linear path whose source reads by ``data_interval``; the
    handle then carries it (``meta["incremental"]``) so that an appending destination downstream replaces
    exactly that interval, as after a ``source.postgres`` task.

    ``cursor``: the states of the destinations fed by the one source reading by cursor (a linear path, or
    joined with sources read in full). It reads from the smallest, as the ETL source does, and the handle
    carries what it read (``meta["incremental"]``, ``cursor_read.cursor_meta``: from where, the largest
    value read), so each destination after the exit drops what it holds and commits its own cursor as it
    does after a ``source.postgres`` task: this task commits no cursor."""
    handles, text = _read(
        source_id,
        source,
        steps,
        {None: output_uri},
        sources=sources,
        log=log,
        interval=interval,
        dag_id=dag_id,
        cursor=cursor,
    )
    result: dict[str, Any] = dict(handles[None])
    result.update(engine="elt", sql=text)
    return result  # type: ignore[return-value]


def read_elt_ports(
    source_id: str,
    source: PostgresSourceConfig,
    steps: list[EltStep],
    output_uris: Mapping[str, str],
    *,
    sources: dict[str, PostgresSourceConfig] | None = None,
    log: TaskLog | None = None,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    dag_id: str | None = None,
    cursor: CursorRead | None = None,
) -> tuple[dict[str, staging.StagingHandle], str]:
    """:func:`read_elt` for an exit with several outputs (a route's ``matched``/``unmatched``, a
    quality_check's ``out``/``rejected``): each port of ``output_uris`` is staged at its URI (where the
    ETL multi-output operator stages it), all from one snapshot, in one transaction. The exit's builder
    computes its input once for every port (a route's flagged rows, a quarantine's flags: a temporary
    table); its checks (a quality_check's verdict) run as in ETL, before any row is staged.

    Returns ``{port: handle}`` in the order of ``output_uris`` (each handle with ``"engine": "elt"`` and
    the same ``meta`` as :func:`read_elt` gives) and the SQL that ran."""
    if not output_uris:
        raise ValueError("read_elt_ports needs at least one output port")
    uris: dict[str | None, str] = {port: uri for port, uri in output_uris.items()}
    handles, text = _read(
        source_id,
        source,
        steps,
        uris,
        sources=sources,
        log=log,
        interval=interval,
        dag_id=dag_id,
        cursor=cursor,
    )
    out: dict[str, staging.StagingHandle] = {}
    for port, handle in handles.items():
        assert port is not None
        result: dict[str, Any] = dict(handle)
        result["engine"] = "elt"
        out[port] = result  # type: ignore[assignment]
    return out, text


def _read(
    source_id: str,
    source: PostgresSourceConfig,
    steps: list[EltStep],
    output_uris: Mapping[str | None, str],
    *,
    sources: dict[str, PostgresSourceConfig] | None,
    log: TaskLog | None,
    interval: tuple[dt.datetime, dt.datetime] | None,
    dag_id: str | None,
    cursor: CursorRead | None,
) -> tuple[dict[str | None, staging.StagingHandle], str]:
    """Stage each of the exit's outputs (``None``: its first, as a single-output exit's result) at its
    URI; the handles by port, and the SQL that ran."""
    logger = get_log(log)
    if not steps:
        raise ValueError("read_elt needs at least one step (the exit)")
    exit_step = steps[-1]
    owner = node_label(exit_step.module, exit_step.node_id)
    every_source = {source_id: source, **(sources or {})}
    for node_id, config in every_source.items():
        if config.conn_id != source.conn_id:
            raise LogiDataTaskError(
                f"{owner}: a pushed-down graph reads one connection; source {node_id!r} uses "
                f"{config.conn_id!r}, source {source_id!r} {source.conn_id!r}"
            )
        spec = config.incremental
        if spec is not None and spec.mode == "data_interval" and len(every_source) > 1:
            raise LogiDataTaskError(
                f"{owner}: source {node_id!r} reads by data interval, which a partial pushdown runs only for "
                "a single source; set engine etl"
            )
    cursor_id = cursor_source(every_source, owner)
    if cursor_id is not None and (cursor is None or dag_id is None):
        raise LogiDataTaskError(
            f"{owner}: cursor source {cursor_id!r} needs the cursors of the destinations it feeds (run "
            "through the ELT operator); set engine etl"
        )
    read: dict[str, Any] | None = None
    rows_read = 0
    several = len(output_uris) > 1
    handles: dict[str | None, staging.StagingHandle] = {}
    started = time.monotonic()
    with connect(source.conn_id, owner=owner, node_id=exit_step.node_id) as con:
        warn_about_role(con, source.conn_id, owner, logger)
        con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with con.transaction(force_rollback=True):
                confine(con, seconds=statement_timeout_seconds(), read_only=False)
                cursor_from = None
                if cursor_id is not None:
                    assert cursor is not None
                    full = every_source[cursor_id].model_copy(update={"incremental": None})
                    plain = source_select(con, full, cursor_id, logger, None)  # to type the column
                    cursor_from = read_start(
                        con, plain, cursor_id, every_source[cursor_id], cursor, owner=owner, log=logger
                    )
                # The exit's builder runs here: its checks (a quality_check's verdict) before any row
                # leaves, and, for several outputs, its input computed once for all of them.
                selects, helpers, last = compile_all(
                    con, source_id, every_source, steps, interval, logger, cursor_from=cursor_from
                )
                port_selects: dict[str | None, str] = {}
                for port in output_uris:
                    ref = last if port is None else f"{last}:{port}"
                    if ref not in selects:
                        raise LogiDataTaskError(f"{owner}: has no output port {port!r}")
                    port_selects[port] = selects[ref]
                text = "\n".join([*helpers.values(), *port_selects.values()])
                what = (
                    f"only the rows of its outputs ({', '.join(map(str, output_uris))}) leave the database"
                    if several
                    else "only the result leaves the database"
                )
                logger.info(f"{exit_step.node_id}: engine elt: running in PostgreSQL; {what}:\n{text}")
                with read_only_step(con):
                    if cursor_id is not None:  # the same snapshot as the rows staged below
                        read, rows_read = _what_was_read(
                            con,
                            dag_id or "",
                            cursor_id,
                            every_source[cursor_id],
                            selects[cursor_id],
                            cursor_from,
                            owner,
                        )
                    for port, select in port_selects.items():
                        label = f"{exit_step.node_id} ({port})" if several else exit_step.node_id
                        handles[port] = _stage(con, select, output_uris[port], label, owner, logger)
        except psycopg.Error as error:
            confined = confinement_error(error, owner, WHAT)
            if confined is not None:
                raise confined from None
            raise LogiDataTaskError(f"{owner}: PostgreSQL failed running {WHAT}: {pg_error(error)}") from None
    seconds = time.monotonic() - started
    rows = ", ".join(f"{port} {handle['rows']}" for port, handle in handles.items())
    left = f"result rows ({rows})" if several else f"{next(iter(handles.values()))['rows']} result rows"
    logger.info(
        f"{exit_step.node_id}: engine elt: {left} left the database in {seconds:.2f} s "
        f"({len(every_source)} source(s) and {len(steps)} step(s) ran inside PostgreSQL)"
    )
    meta: dict[str, Any] | None = None
    spec = source.incremental
    if spec is not None and interval is not None:
        meta = {
            "incremental": [
                incremental.interval_meta(dag_id, source_id, spec.column, interval[0], interval[1])
            ]
        }
    if read is not None:
        # As after a source.postgres task: each destination downstream drops the rows it holds and
        # commits its own cursor (engine.incremental_load).
        meta = {"incremental": [read]}
        logger.info(
            f"{cursor_id}: read {rows_read} row(s) by cursor from {cursor_from!r}, largest "
            f"{read['column']} {read['read_max']!r}; each destination drops the rows it already holds and "
            "commits its own cursor once the rest has landed"
        )
    if meta is not None:  # as in ETL, every output carries what its inputs read
        for handle in handles.values():
            handle["meta"] = {key: list(value) for key, value in meta.items()}
    return handles, text


def _stage(
    con: psycopg.Connection[Any], select: str, uri: str, label: str, owner: str, log: TaskLog
) -> staging.StagingHandle:
    """Stream one SELECT's rows out through ``COPY ... TO STDOUT``, typed as a ``source.postgres`` read
    is, into the staging file ``uri``."""
    base = sql.SQL(select)  # type: ignore[arg-type]  # built from checked parts
    columns = [plan_column(*item) for item in describe_select(con, base, owner=owner, what=WHAT)]
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
    statement = sql.SQL("COPY (SELECT {} FROM (\n{}\n) AS q) TO STDOUT (FORMAT csv)").format(
        sql.SQL(", ").join(c.expression for c in columns), base
    )
    stream = SourceStream(schema=schema, batches=iter(()), columns=columns, description=WHAT)
    batches = _copy_batches(con, statement, columns, schema, settings.batch_rows(), owner, WHAT, stream)
    return staging.write_staging(batches, uri, label=label, schema=schema, log=log)


def _what_was_read(
    con: psycopg.Connection[Any],
    dag_id: str,
    source_id: str,
    source: PostgresSourceConfig,
    select: str,
    read_from: str | None,
    owner: str,
) -> tuple[dict[str, Any], int]:
    """The ``meta["incremental"]`` entry of a cursor source's read (as ``pg_read.read_postgres`` writes it
    after an ETL read) and how many rows it read; ``select``: the source's SELECT, cursor condition
    included."""
    spec = source.incremental
    assert spec is not None
    read_max, rows, _type = largest_read(con, select, spec.column, owner=owner)
    initial = None if spec.initial_value is None else str(spec.initial_value)
    entry = cursor_meta(
        dag_id, source_id, spec.column, initial_value=initial, read_from=read_from, read_max=read_max
    )
    return entry, rows
