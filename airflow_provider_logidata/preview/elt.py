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

    from airflow_provider_logidata.engine import elt, elt_context
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
    members = [plan.node(node_id) for node_id in plan.elt_path]  # upstream first
    sources = [node for node in members if node.category == "source"]
    steps = [node for node in members if node.category != "source"]
    owner = node_label(sources[0].module, sources[0].id)
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    configs = {}
    for source in sources:
        validated_source = validate_config(source.module, source.config, source.id)
        assert isinstance(validated_source, PostgresSourceConfig)
        configs[source.id] = validated_source.model_copy(update={"incremental": None})
    config = configs[sources[0].id]
    with connect(plan.elt_conn_id, owner=owner, node_id=plan.node_id) as con:
        warn_about_role(con, plan.elt_conn_id, owner, log)
        try:
            with con.transaction(force_rollback=True):
                confine(con, seconds=statement_timeout_seconds(), read_only=False)
                # Each source sampled (a join of two samples, as the ETL preview joins its samples),
                # then every step built over its inputs as a run builds it (engine.elt).
                selects: dict[str, str] = {}
                for node_id, source_config in configs.items():
                    select = elt.source_select(con, source_config, node_id, log, None)
                    sample = f"SELECT * FROM (\n{select}\n) AS logidata_sample LIMIT {int(rows)}"
                    selects[node_id] = selects[f"{node_id}:out"] = sample
                helpers: dict[str, str] = {}
                for step in steps:
                    validated = validate_config(step.module, step.config, step.id)
                    wiring = tuple(
                        (f"{item.source}:{item.source_port}", item.target_port) for item in step.inputs
                    )
                    built = elt.EltStep(step.id, step.module, validated, wiring)
                    inputs = [(ref, port, selects[ref]) for ref, port in wiring]
                    elt.store_ports(selects, step.id, elt.build_ports(con, built, inputs, helpers, log))
                select = selects[plan.elt_path[-1]]
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
    if len(sources) == 1 and config.table is not None and all(count_kept(step.module) for step in steps):
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
