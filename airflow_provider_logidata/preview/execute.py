"""Run a preview plan (inside a worker process): sample the sources, run the transforms in DuckDB.

Every transform runs its module's own SQL builder (``engine.builders``: the chain step of a one-in-one-out
module, the multi-port builder of joins, unions, routes, ...) over the sampled inputs held in memory as
Arrow tables, in a fresh in-memory DuckDB per node with file access disabled, exactly the SQL a run
would use. A preview after a filter or deduplicate over a head sample is a sample of the output.

The answer is the ``Preview`` of ``docs/preview-api.md`` without ``cached`` (the service adds it).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.preview.encoding import encode_rows

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from airflow_provider_logidata.preview.plan import PlanNode, PreviewPlan

log = logging.getLogger("airflow_provider_logidata.preview")


def row_by_row(module: str) -> bool:
    """Input row i becomes output row i (the before/after view marks changed rows): a step keeping every
    row that is not a sort, or a function over the whole table (python) when it returns as many rows."""
    definition = registry().get(module)
    return definition is not None and (
        (definition.keeps_rows and not definition.blocking) or definition.self_materialised
    )


def count_kept(module: str) -> bool:
    """The output row count is the input's (estimates carry through); a sort reorders but keeps it."""
    definition = registry().get(module)
    return definition is not None and (definition.keeps_rows or row_by_row(module))


def row_subset(module: str) -> bool:
    """The output rows are some of the input rows, unchanged (the rest are "removed")."""
    definition = registry().get(module)
    return definition is not None and definition.subset_rows


# Rows read from each source when something upstream can drop rows: enough for a filter or deduplicate to
# leave ``limit`` rows in most cases, small enough to stay well under a second.
SAMPLE_FACTOR = 10
MAX_SOURCE_ROWS = 10_000


def source_rows(plan: PreviewPlan) -> int:
    """Rows each source reads: ``limit`` when every step keeps all rows, more when one may drop rows."""
    transforms = [node for node in plan.nodes if node.category == "transform"]
    if all(count_kept(node.module) for node in transforms):
        return plan.limit
    return max(plan.limit, min(plan.limit * SAMPLE_FACTOR, MAX_SOURCE_ROWS))


def run_plan(plan: PreviewPlan, memory_limit: str = "1GB") -> dict[str, Any]:
    """The preview of ``plan.target`` as a JSON-safe dict."""
    from airflow_provider_logidata.preview.pool import report_progress

    started = time.monotonic()
    check_policy(plan)
    if plan.elt_path and plan.target.id in plan.elt_path:
        report_progress(
            f"ELT preview in PostgreSQL up to {plan.target.module} {plan.target.id!r}", plan.target.id
        )
        from airflow_provider_logidata.preview.elt import run_elt_preview

        table, sql, estimate = run_elt_preview(plan, source_rows(plan))
        return build_answer(plan, table, None, None, sql, estimate, "elt", started)

    con = _connect(memory_limit)
    try:
        return _run_etl(plan, con, memory_limit, started)
    finally:
        con.close()


def _sample_outputs(
    plan: PreviewPlan, con: duckdb.DuckDBPyConnection | None, memory_limit: str, rows: int
) -> tuple[dict[tuple[str, str], pa.Table], dict[str, int | None], list[str]]:
    """Every node's output tables on the sample, by ``(node id, port)``; estimates; source SQL that ran.

    One-in-one-out transforms share ``con`` (opening a DuckDB costs tens of ms).
    """
    from airflow_provider_logidata.engine import builders
    from airflow_provider_logidata.preview.pool import report_progress
    from airflow_provider_logidata.preview.sampling import SAMPLERS

    outputs: dict[tuple[str, str], pa.Table] = {}
    estimates: dict[str, int | None] = {}
    sqls: list[str] = []
    for node in plan.nodes:
        report_progress(f"{node.module} {node.id!r}", node.id)
        if node.category == "source":
            if node.module not in SAMPLERS:
                raise _error(node, f"previews cannot read {node.module} yet")
            sample = SAMPLERS[node.module](node.config, node.id, rows, plan.sampling, plan.seed, log)
            outputs[(node.id, "out")] = sample.table
            estimates[node.id] = sample.row_count_estimate
            if sample.sql:
                sqls.append(sample.sql)
            continue
        inputs = [outputs[(item.source, item.source_port)] for item in node.inputs]
        upstream = [estimates.get(item.source) for item in node.inputs]
        estimates[node.id] = upstream[0] if len(upstream) == 1 and count_kept(node.module) else None
        if node.category == "destination":
            # A destination's preview is what it would write: its input.
            outputs[(node.id, "out")] = inputs[0]
            estimates[node.id] = upstream[0] if len(upstream) == 1 else None
            continue
        shared = con if builders.step(node.module) is not None else None
        for port, table in run_transform(node, inputs, memory_limit=memory_limit, con=shared).items():
            outputs[(node.id, port)] = table
    return outputs, estimates, sqls


def plan_table(plan: PreviewPlan, memory_limit: str = "1GB") -> pa.Table:
    """The target node's output on a sample of exactly ``plan.limit`` source rows (suggestions' input)."""
    check_policy(plan)
    if plan.elt_path and plan.target.id in plan.elt_path:
        from airflow_provider_logidata.preview.elt import run_elt_preview

        table, _sql, _estimate = run_elt_preview(plan, plan.limit)
        return table
    con = _connect(memory_limit)
    try:
        outputs, _estimates, _sqls = _sample_outputs(plan, con, memory_limit, plan.limit)
    finally:
        con.close()
    return outputs[(plan.target.id, _first_port(plan.target))]


def _run_etl(
    plan: PreviewPlan, con: duckdb.DuckDBPyConnection, memory_limit: str, started: float
) -> dict[str, Any]:
    outputs, estimates, sqls = _sample_outputs(plan, con, memory_limit, source_rows(plan))
    target = plan.target
    port = _first_port(target)
    table = outputs[(target.id, port)]
    before: pa.Table | None = None
    row_status: list[str] | None = None
    if target.category == "transform" and len(target.inputs) == 1:
        before = outputs[(target.inputs[0].source, target.inputs[0].source_port)]
        row_status = match_rows(target.module, before, table)
    statement = "\n".join(sqls) if sqls else None
    estimate = estimates.get(target.id)
    return build_answer(plan, table, before, row_status, statement, estimate, "etl", started, con=con)


def check_policy(plan: PreviewPlan) -> None:
    """The run-time policy on every node the preview runs, as a worker checks a task's rendered config.

    The plan's configs are already rendered and validated (``plan.plan_preview``); this adds what needs
    the environment (a connection's type), so a preview refuses exactly what a run would.
    """
    from airflow_provider_logidata.security.policy import check_config

    for node in plan.nodes:
        module = registry().get(node.module)
        if module is None:
            continue
        config = module.config_model.model_validate(node.config)
        violations = check_config(module.category, config, stage="run")
        if violations:
            details = "; ".join(f"{item.path}: {item.message}" for item in violations)
            raise _error(node, f"refused by the security policy: {details}")


def _first_port(node: PlanNode) -> str:
    definition = registry().get(node.module)
    outputs = definition.outputs if definition is not None else ()
    return outputs[0] if outputs else "out"


def _error(node: PlanNode, message: str) -> Exception:
    from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label

    return LogiDataTaskError(f"{node_label(node.module, node.id)}: {message}")


def _connect(memory_limit: str) -> duckdb.DuckDBPyConnection:
    from airflow_provider_logidata.engine.duck import sample_connection

    return sample_connection(memory_limit)


def run_transform(
    node: PlanNode,
    inputs: list[pa.Table],
    *,
    memory_limit: str = "1GB",
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, pa.Table]:
    """One transform over in-memory inputs with its module's builder; ``{port: table}``.

    ``con``: a connection to reuse (one-in-one-out builders only create views of their own); by default
    a fresh one, closed afterwards (multi-input builders create fixed-name views and tables).
    """
    import duckdb
    import pyarrow as pa

    from airflow_provider_logidata.engine import builders, duck
    from airflow_provider_logidata.engine.configs import validate_config
    from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
    from airflow_provider_logidata.engine.files import describe_error
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext

    owner = node_label(node.module, node.id)
    config = validate_config(node.module, node.config, node.id)
    own = con is None
    connection = _connect(memory_limit) if con is None else con
    names = [duck.input_name(index) if own else f"preview_{node.id}_{index}" for index in range(len(inputs))]
    names = [name if own else _safe_name(name) for name in names]
    try:
        for name, table in zip(names, inputs, strict=True):
            connection.register(name, table)
        # SQL written in a node (a condition, a query) may read only the registered inputs.
        connection.execute("SET enable_external_access = false")
        context = TransformContext(
            con=connection, module=node.module, node_id=node.id, config=config, log=log
        )
        try:
            if (step := builders.step(node.module)) is not None:
                if len(inputs) != 1:
                    raise LogiDataTaskError(f"{owner}: needs exactly 1 input, got {len(inputs)}")
                sql = step.build(context, names[0], duck.describe(connection, names[0]))
                plans = {"out": sql}
            elif (build_multi := builders.multi(node.module)) is not None:
                multi_inputs = [
                    MultiInput(
                        ref=item.source if item.source_port == "out" else f"{item.source}:{item.source_port}",
                        relation=names[index],
                        columns=duck.describe(connection, names[index]),
                        port=item.target_port,
                    )
                    for index, item in enumerate(node.inputs)
                ]
                plans = build_multi(context, multi_inputs)
            else:
                raise LogiDataTaskError(f"{owner}: previews cannot run {node.module} yet")
            return {port: connection.sql(sql).to_arrow_table() for port, sql in plans.items()}
        except (duckdb.Error, pa.ArrowException) as error:
            raise LogiDataTaskError(
                f"{owner}: DuckDB failed running the step on the sample: {describe_error(error)}; check the "
                "node's config against its input columns and values"
            ) from None
    finally:
        if own:
            connection.close()
        else:
            for name in names:
                connection.unregister(name)


def _safe_name(name: str) -> str:
    """A relation name DuckDB takes unquoted (builders write the input's name into SQL as is)."""
    import re

    return re.sub(r"[^A-Za-z0-9_]", "_", name) + "_" + format(abs(hash(name)) % 10**8, "08d")


def match_rows(module: str, before: pa.Table, after: pa.Table) -> list[str] | None:
    """Per input row: ``kept``, ``changed`` or ``removed``, when output rows can be matched to input rows.

    Row-preserving steps map row i to row i (changed when a column both sides share differs); filtering
    steps keep some of the input rows unchanged, matched on the values of the shared columns.
    """
    shared = [name for name in after.column_names if name in before.column_names]
    if row_by_row(module) and before.num_rows == after.num_rows:
        if not shared and before.num_rows:
            return ["changed"] * before.num_rows
        left = before.select(shared).to_pylist()
        right = after.select(shared).to_pylist()
        return ["kept" if a == b else "changed" for a, b in zip(left, right, strict=True)]
    if row_subset(module) and shared:
        # Matched as a multiset: deduplicate does not keep input order; the first copy of a row is "kept".
        from collections import Counter

        remaining = Counter(repr(row) for row in _row_major(after.select(shared)))
        status: list[str] = []
        for row in _row_major(before.select(shared)):
            key = repr(row)
            if remaining[key] > 0:
                remaining[key] -= 1
                status.append("kept")
            else:
                status.append("removed")
        return status if not +remaining else None
    return None


def _row_major(table: pa.Table) -> list[list[Any]]:
    """Rows as lists, built column by column (a row dict would merge two columns of one name)."""
    columns = [column.to_pylist() for column in table.columns]
    return (
        [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(table.num_rows)]
    )


def _columns(table: pa.Table, con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """Column names and DuckDB type names (what the profile and the suggestion rules use too)."""
    con.register("preview_columns", table.slice(0, 0))
    try:
        described = con.execute("DESCRIBE SELECT * FROM preview_columns").fetchall()
    finally:
        con.unregister("preview_columns")
    return [{"name": str(row[0]), "type": str(row[1])} for row in described]


def build_answer(
    plan: PreviewPlan,
    table: pa.Table,
    before: pa.Table | None,
    row_status: list[str] | None,
    sql: str | None,
    estimate: int | None,
    engine: str,
    started: float,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    if con is None:
        own = _connect("256MB")
        try:
            return build_answer(plan, table, before, row_status, sql, estimate, engine, started, con=own)
        finally:
            own.close()
    from airflow_provider_logidata.preview.pool import job_warnings, report_progress
    from airflow_provider_logidata.profiling import profile_table

    report_progress(f"profiling the output of {plan.target.module} {plan.target.id!r}", plan.target.id)
    shown = table.slice(0, plan.limit)
    rows, truncated = encode_rows(_row_major(shown))
    answer: dict[str, Any] = {
        "node_id": plan.node_id,
        "columns": _columns(table, con),
        "rows": rows,
        "truncated_cells": truncated,
        "profile": profile_table(table, con=con),
        "row_count_estimate": estimate,
        "sample_rows": table.num_rows,
        "elapsed_ms": 0.0,
        "engine": engine,
        "sql": sql,
        "cached": False,
        "input": None,
        "row_status": None,
        "warnings": job_warnings(),  # e.g. a PostgreSQL connection logging in as a superuser
    }
    if before is not None:
        before_rows, before_truncated = encode_rows(_row_major(before.slice(0, plan.limit)))
        answer["input"] = {"columns": _columns(before, con), "rows": before_rows}
        answer["truncated_cells"] += before_truncated
        answer["row_status"] = row_status[: plan.limit] if row_status is not None else None
    answer["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    return answer
