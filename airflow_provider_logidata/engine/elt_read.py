"""Partial pushdown: a pushed-down sub-graph whose result leaves the database for the engine.

When the rows end up elsewhere (a file, S3, another database) or meet a node PostgreSQL cannot run, the
largest part of the graph that can run there still does (``dag_factory.elt_plan``: the path's *exit*):
the sources' SELECTs and each step's PostgreSQL builder compile to one SELECT (``engine.elt``), and only
its result streams out through ``COPY (...) TO STDOUT``, typed and batched exactly as a
``source.postgres`` read is (``engine.pg_read``), into the exit's staging file. The nodes after it read
that file as they read any node's output.

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
from airflow_provider_logidata.engine.elt import EltStep, compile_graph
from airflow_provider_logidata.engine.elt_context import read_only_step
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
) -> staging.StagingHandle:
    """Run the sub-graph ending at ``steps[-1]`` (the exit) in PostgreSQL and stage its result at
    ``output_uri``; returns the staging handle, plus ``"engine": "elt"`` and the SQL that ran.

    ``interval``: the run's data interval, for a linear path whose source reads by ``data_interval``; the
    handle then carries it (``meta["incremental"]``) so that an appending destination downstream replaces
    exactly that interval, as after a ``source.postgres`` task."""
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
        if spec is not None and (spec.mode != "data_interval" or len(every_source) > 1):
            raise LogiDataTaskError(
                f"{owner}: source {node_id!r} reads incrementally ({spec.mode}), which a partial pushdown "
                "runs only for one source by data interval; set engine etl"
            )
    started = time.monotonic()
    with connect(source.conn_id, owner=owner, node_id=exit_step.node_id) as con:
        warn_about_role(con, source.conn_id, owner, logger)
        con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with con.transaction(force_rollback=True):
                confine(con, seconds=statement_timeout_seconds(), read_only=False)
                select, helpers = compile_graph(con, source_id, every_source, steps, interval, logger)
                text = "\n".join([*helpers.values(), select])
                logger.info(
                    f"{exit_step.node_id}: engine elt: running in PostgreSQL; only the result leaves the "
                    f"database:\n{text}"
                )
                with read_only_step(con):
                    base = sql.SQL(select)  # type: ignore[arg-type]  # built from checked parts
                    columns = [
                        plan_column(*item) for item in describe_select(con, base, owner=owner, what=WHAT)
                    ]
                    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
                    statement = sql.SQL("COPY (SELECT {} FROM (\n{}\n) AS q) TO STDOUT (FORMAT csv)").format(
                        sql.SQL(", ").join(c.expression for c in columns), base
                    )
                    stream = SourceStream(schema=schema, batches=iter(()), columns=columns, description=WHAT)
                    batches = _copy_batches(
                        con, statement, columns, schema, settings.batch_rows(), owner, WHAT, stream
                    )
                    handle = staging.write_staging(
                        batches, output_uri, label=exit_step.node_id, schema=schema, log=logger
                    )
        except psycopg.Error as error:
            confined = confinement_error(error, owner, WHAT)
            if confined is not None:
                raise confined from None
            raise LogiDataTaskError(f"{owner}: PostgreSQL failed running {WHAT}: {pg_error(error)}") from None
    seconds = time.monotonic() - started
    logger.info(
        f"{exit_step.node_id}: engine elt: {handle['rows']} result rows left the database in {seconds:.2f} s "
        f"({len(every_source)} source(s) and {len(steps)} step(s) ran inside PostgreSQL)"
    )
    spec = source.incremental
    if spec is not None and interval is not None:
        handle["meta"] = {
            "incremental": [
                incremental.interval_meta(dag_id, source_id, spec.column, interval[0], interval[1])
            ]
        }
    result: dict[str, Any] = dict(handle)
    result.update(engine="elt", sql=text)
    return result  # type: ignore[return-value]
