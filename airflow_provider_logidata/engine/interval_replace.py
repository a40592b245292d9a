"""A destination's side of a data interval read: replace the run's interval, in the load's transaction.

``destination.postgres`` in mode ``append`` deletes the target's rows with ``column >= start AND column <
end`` in the transaction that inserts the interval's rows, so a rerun or backfill replaces the interval
instead of adding it again: ETL through ``engine.incremental_load.DestinationIncremental``, ELT through
:func:`replace_interval_elt`.

Light at import time: psycopg is imported where it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    import psycopg

    from airflow_provider_logidata.engine.logs import TaskLog


def delete_interval(
    con: psycopg.Connection[Any],
    schema: str,
    table: str,
    column: str,
    start: str,
    end: str,
    *,
    input_names: Sequence[str] | None,
    on_schema_change: str,
    source: str,
    owner: str,
    node_id: str,
    log: TaskLog,
) -> int:
    """Delete the target's rows of ``[start, end)`` (in the caller's transaction); returns how many.

    Runs before the rows are written: an append writes straight into the table. An advisory lock makes a
    concurrent load of the same table wait, so two reruns of one interval cannot both keep their rows.
    """
    from psycopg import sql

    if input_names is not None and column not in input_names:
        raise LogiDataTaskError(
            f"{owner}: the interval column {column!r} of source {source!r} does not reach this destination "
            f"(its input has {', '.join(input_names)}): a rerun could not find the interval's earlier rows "
            "and would load them twice. Keep the column under the same name (select_columns), or set mode "
            "'merge' with keys. Nothing was written."
        )
    con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"logidata:load:{schema}.{table}",))
    columns = con.execute(
        "SELECT a.attname, t.typcategory FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        (schema, table),
    ).fetchall()
    target = f"{schema}.{table}"
    if not columns:
        return 0  # no table yet: nothing loaded before
    names = {str(name): str(category) for name, category in columns}
    match = [column] if column in names else [n for n in names if n.lower() == column.lower()]
    if len(match) != 1:
        if on_schema_change == "evolve":
            log.info(
                f"{node_id}: {target} has no column {column!r} yet (added by this load): nothing to replace"
            )
            return 0
        raise LogiDataTaskError(
            f"{owner}: {target} has no column {column!r}, so the rows an earlier run loaded for this "
            "interval cannot be found and a rerun would load them twice. Add the column to the table, set "
            "on_schema_change to 'evolve', or set mode 'merge' with keys. Nothing was written."
        )
    name = match[0]
    if names[name] != "D":
        raise LogiDataTaskError(
            f"{owner}: column {name!r} of {target} is not a date or timestamp, so the interval's earlier "
            "rows cannot be found by it. Nothing was written."
        )
    cur = con.execute(
        sql.SQL(
            "DELETE FROM {}.{} WHERE {} >= CAST({} AS timestamptz) AND {} < CAST({} AS timestamptz)"
        ).format(
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.Identifier(name),
            sql.Literal(start),
            sql.Identifier(name),
            sql.Literal(end),
        )
    )
    deleted = max(cur.rowcount, 0)
    log.info(
        f"{node_id}: append over a data interval replaces it: deleted {deleted} row(s) of {target} with "
        f"{name} in [{start}, {end}) in the transaction that loads the interval again"
    )
    return deleted


def replace_interval_elt(
    con: psycopg.Connection[Any],
    source: Any,
    source_id: str,
    interval: tuple[dt.datetime, dt.datetime] | None,
    destination: Any,
    input_names: Sequence[str],
    *,
    owner: str,
    node_id: str,
    log: TaskLog,
) -> None:
    """ELT (``engine.elt.run_elt``): the interval delete of an append, as the ETL load does it."""
    spec = getattr(source, "incremental", None)
    if spec is None or spec.mode != "data_interval" or interval is None or destination.mode != "append":
        return
    start, end = interval
    delete_interval(
        con,
        destination.schema_name,
        destination.table,
        spec.column,
        start.isoformat(),
        end.isoformat(),
        input_names=input_names,
        on_schema_change=destination.on_schema_change,
        source=source_id,
        owner=owner,
        node_id=node_id,
        log=log,
    )
