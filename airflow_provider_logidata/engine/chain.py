"""Run a linear chain of transforms in one DuckDB connection, streaming only the last step to staging.

Each step's SQL becomes a temporary view over the previous one, so DuckDB plans the whole chain as one
query (projections and filters are pushed through, nothing is materialised between steps). The one
exception is a blocking step (a sort or aggregate such as deduplicate) that is not last: it is stored in
a temporary table, which DuckDB spills to disk past its memory limit, because it cannot stream anyway
and later steps' pre-queries would otherwise compute it again.

A single transform task is simply a chain of one; the DAG factory may later fuse consecutive transforms
into one task with the same function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from airflow_provider_logidata.engine import duck, staging
from airflow_provider_logidata.engine.configs import validate_config
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import describe_error
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.transforms import (
    BLOCKING,
    ROW_PRESERVING,
    TRANSFORMS,
    TransformContext,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_logidata.modules.base import ModuleConfig


@dataclass(frozen=True)
class ChainStep:
    """One transform node: its id (task id), module name and config (model instance or plain dict)."""

    node_id: str
    module: str
    config: ModuleConfig | Mapping[str, Any]

    @property
    def owner(self) -> str:
        return node_label(self.module, self.node_id)

    def validated(self) -> ModuleConfig:
        if self.module not in TRANSFORMS:
            known = ", ".join(sorted(TRANSFORMS))
            raise LogiDataTaskError(f"{self.owner}: {self.module!r} is not a transform; known: {known}")
        return validate_config(self.module, self.config, self.node_id)


def run_chain(
    steps: Sequence[ChainStep],
    input_handles: Sequence[staging.StagingHandle],
    output: str,
    *,
    input_ids: Sequence[str] = (),
    log: TaskLog | None = None,
    count_steps: bool = True,
) -> staging.StagingHandle:
    """Run ``steps`` over the staged inputs and stage the last step's result at ``output``.

    The first step reads ``input_0`` (the first handle); every handle is exposed as ``input_<n>``.
    Logs, per step, rows in and out and the time taken. Steps that keep every row (``ROW_PRESERVING``)
    need no count; after a step that can drop rows (a filter) the intermediate count costs one
    ``count(*)`` over its view, which re-runs the streaming steps before it (DuckDB prunes every column
    it can); pass ``count_steps=False`` to skip those counts. Builders' own pre-queries (cast and date
    checks, fill statistics) likewise re-run the streaming steps before them, never a blocking one.
    Returns the staging handle of ``output``.
    """
    if not steps:
        raise ValueError("run_chain needs at least one step")
    logger = get_log(log)
    configs = [step.validated() for step in steps]
    last = steps[-1]
    if len(input_handles) != 1:
        raise LogiDataTaskError(
            f"{steps[0].owner}: needs exactly 1 input, got {len(input_handles)}; connect one upstream node"
        )
    label = last.node_id if len(steps) == 1 else " -> ".join(step.node_id for step in steps)
    started = time.monotonic()
    inputs = duck.locate_inputs(input_handles, owner=steps[0].owner, input_ids=input_ids)
    with duck.connect(external_access=False, inputs=inputs) as con:
        relation = duck.input_name(0)
        rows_in: int | None = input_handles[0]["rows"]
        for index, (step, config) in enumerate(zip(steps, configs, strict=True)):
            step_started = time.monotonic()
            context = TransformContext(
                con=con, module=step.module, node_id=step.node_id, config=config, log=logger
            )
            view = f"step_{index}"
            try:
                columns = duck.describe(con, relation)
                sql = TRANSFORMS[step.module](context, relation, columns)
                kind = "TABLE" if step.module in BLOCKING and index < len(steps) - 1 else "VIEW"
                duck.fetch_all(con, f"CREATE TEMP {kind} {view} AS {sql}")
                rows_out: int | None = None
                if index < len(steps) - 1:
                    if step.module in ROW_PRESERVING:
                        rows_out = rows_in
                    elif count_steps:
                        rows_out = duck.count_rows(con, view)
            except duckdb.Error as error:
                raise LogiDataTaskError(
                    f"{step.owner}: DuckDB failed running the step: {describe_error(error)}; "
                    "check the node's config against its input columns and values"
                ) from None
            if index < len(steps) - 1:
                logger.info(
                    f"{step.node_id} ({step.module}): step {index + 1}/{len(steps)}, rows in "
                    f"{_count(rows_in)}, out {_count(rows_out)}, {time.monotonic() - step_started:.2f} s"
                )
                rows_in = rows_out
            relation = view
        write_started = time.monotonic()
        try:
            reader = duck.stream(con, f"SELECT * FROM {relation}")
            handle = staging.write_staging(reader, output, label=label, log=logger)
            meta = staging.merge_meta(input_handles)  # e.g. incremental cursors travel to the destination
            if meta:
                handle["meta"] = meta
        except (duckdb.Error, pa.ArrowException, OSError) as error:
            who = last.owner if len(steps) == 1 else f"transform chain {label}"
            raise LogiDataTaskError(
                f"{who}: failed while running: {describe_error(error)}; check the node's config and the "
                "values in its input"
            ) from None
    logger.info(
        f"{last.node_id} ({last.module}): step {len(steps)}/{len(steps)}, rows in {_count(rows_in)}, "
        f"out {handle['rows']}, {time.monotonic() - write_started:.2f} s; chain total "
        f"{time.monotonic() - started:.2f} s"
    )
    return handle


def _count(rows: int | None) -> str:
    return "?" if rows is None else str(rows)
