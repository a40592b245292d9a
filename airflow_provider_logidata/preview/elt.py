"""Preview of a node on a path the pipeline pushes down to PostgreSQL (``engine`` auto/elt).

The same SQL a run compiles (``engine.elt``: the source's SELECT, then each transform's PostgreSQL
builder) runs in the database over the source's first rows (``LIMIT`` on the source SELECT), inside a
transaction that is always rolled back (builders may create ``pg_temp`` helper functions). The answer's
``sql`` is exactly what ran.

Confinement as for a source preview (``engine.pg_connect.confine``): ``statement_timeout`` is the preview's
time limit and ``client_connection_check_interval`` stops the query of a worker killed at that limit. The
transaction itself cannot be read-only (the helpers are created in it), so every statement that runs the
user's SQL, the sample included, runs in a read-only savepoint (``engine.elt_context.read_only_step``), and
the user's conditions and expressions pass ``security.pg_sql`` before they are put into SQL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.preview.plan import PreviewPlan

log = logging.getLogger("airflow_provider_logidata.preview")


def run_elt_preview(plan: PreviewPlan, rows: int) -> tuple[pa.Table, str, int | None]:
    """The node's output sample computed in PostgreSQL, the SQL that ran and a row estimate."""
    import psycopg

    from airflow_provider_logidata.engine import builders, elt, elt_context
    from airflow_provider_logidata.engine.configs import validate_config
    from airflow_provider_logidata.engine.errors import node_label
    from airflow_provider_logidata.engine.pg_connect import (
        confine,
        connect,
        query_failed,
        statement_timeout_seconds,
        warn_about_role,
    )
    from airflow_provider_logidata.preview.execute import count_kept

    assert plan.elt_path and plan.elt_conn_id
    source = plan.node(plan.elt_path[0])
    steps = [plan.node(node_id) for node_id in plan.elt_path[1:]]
    owner = node_label(source.module, source.id)
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    validated_source = validate_config(source.module, source.config, source.id)
    assert isinstance(validated_source, PostgresSourceConfig)
    config = validated_source.model_copy(update={"incremental": None})
    with connect(plan.elt_conn_id, owner=owner, node_id=plan.node_id) as con:
        warn_about_role(con, plan.elt_conn_id, owner, log)
        try:
            with con.transaction(force_rollback=True):
                confine(con, seconds=statement_timeout_seconds(), read_only=False)
                select = elt.source_select(con, config, source.id, log, None)
                select = f"SELECT * FROM (\n{select}\n) AS logidata_sample LIMIT {int(rows)}"
                helpers: dict[str, str] = {}
                for step in steps:
                    inputs = elt_context.describe(con, select, owner=node_label(step.module, step.id))
                    builder = builders.postgres(step.module)
                    assert builder is not None  # the preview plan pushes down only modules that have one
                    validated = validate_config(step.module, step.config, step.id)
                    ctx = elt_context.EltContext(con, step.module, step.id, validated, log, helpers, inputs)
                    select = builder(ctx, f"(\n{select}\n)", [(c.name, c.type_sql) for c in inputs])
                with con.cursor() as cur, elt_context.read_only_step(con):
                    cur.execute(select.encode())
                    names = [column.name for column in cur.description or []]
                    fetched = cur.fetchall()
        except psycopg.Error as error:
            raise query_failed(
                error,
                owner,
                "the pushed-down preview",
                f"{node_label(plan.target.module, plan.target.id)}: PostgreSQL failed running the preview: "
                f"{str(error).strip().splitlines()[0]}",
            ) from None
    estimate = None
    if config.table is not None and all(count_kept(step.module) for step in steps):
        from airflow_provider_logidata.preview.sampling import _table_estimate

        estimate = _table_estimate(config.conn_id, config.schema_name, config.table, owner, source.id)
    return _to_arrow(names, fetched), "\n".join([*helpers.values(), select]), estimate


def _to_arrow(names: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows from psycopg as an Arrow table; a column whose values Arrow cannot type together becomes text."""
    import pyarrow as pa

    arrays = []
    for index, _ in enumerate(names):
        values = [row[index] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in names])
