"""The destination's last step, shared by ETL and ELT: apply the rows written (``engine.pg_target``) to the
target. A replace swaps the new table in by renaming (``engine.pg_swap``: the exclusive lock is held only
for the swap), or applies a temporary table with ``TRUNCATE`` + ``INSERT`` when the table has what a swap
would lose; a merge runs ``INSERT ... ON CONFLICT (keys) DO UPDATE`` (or ``UPDATE ... FROM`` + ``INSERT
... WHERE NOT EXISTS`` when the table has no unique index on the keys) over the incoming rows deduplicated
on the keys (the last one wins).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from airflow_provider_logidata.engine import pg_swap
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_load_plan import unique_key_index
from airflow_provider_logidata.engine.pg_target import LoadInto, PreparedTarget, staging_table_name

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig


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
        old = staging_table_name(target.table)
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
    if prepared.created or (oid is not None and unique_key_index(con, oid, prepared.existing, keys)):
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
