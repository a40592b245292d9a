"""Run a linear chain of transforms in one DuckDB connection, writing only the last step to staging.

Each step's SQL becomes a temporary view over the previous one, so DuckDB plans the whole chain as one
query (projections and filters are pushed through, nothing is materialised between steps), and its
result goes straight into the staging file through DuckDB's parallel Parquet writer. A blocking step
(a sort or aggregate such as deduplicate) that is not last stays a view too, unless a later step reads
its input more than once (``ModuleDef.rescans``): then it is stored in a temporary table, which DuckDB
spills to disk past its memory limit, so that it is not computed twice.

Checks that would need a full scan before the step runs (values that fail a cast or match no date
format, under ``on_error = fail``) are folded into the single pass: the query fails on the first bad
value, and only then are the counts and examples gathered for the message.

A single transform task is simply a chain of one; the DAG factory fuses consecutive transforms into
one task with the same function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.engine import builders, duck, files, staging
from airflow_provider_logidata.engine.configs import validate_config
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label, with_arrow_errors
from airflow_provider_logidata.engine.files import describe_error
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.transforms import TransformContext

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

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
        if builders.step(self.module) is None:
            known = ", ".join(builders.step_names())
            raise LogiDataTaskError(f"{self.owner}: {self.module!r} is not a transform; known: {known}")
        return validate_config(self.module, self.config, self.node_id)


@dataclass
class StepMetrics:
    """What one step did: rows in and out (``None`` when not known cheaply) and seconds spent on it."""

    node_id: str
    module: str
    rows_in: int | None = None
    rows_out: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "seconds": round(self.seconds, 3),
        }


def run_chain(
    steps: Sequence[ChainStep],
    input_handles: Sequence[staging.StagingHandle],
    output: str,
    *,
    input_ids: Sequence[str] = (),
    log: TaskLog | None = None,
    count_steps: bool = True,
    metrics: list[StepMetrics] | None = None,
) -> staging.StagingHandle:
    """Run ``steps`` over the staged inputs and stage the last step's result at ``output``.

    The first step reads ``input_0`` (the first handle); every handle is exposed as ``input_<n>``.
    Logs, per step, rows in and out and the time taken, and appends the same figures to ``metrics``
    when given. Counts cost nothing after a step that keeps every row (``ModuleDef.keeps_rows``) or a
    materialised one, and the last step's output count comes with the write; row counts are carried
    back from it through the row-preserving steps before it. After another step that can drop rows (a
    filter) the count costs one ``count(*)`` re-running the streaming steps before it (DuckDB prunes
    every column it can); it is skipped (``None``) when a blocking step before it would be computed
    again, or with ``count_steps=False``. Returns the staging handle of ``output``.
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
    who = last.owner if len(steps) == 1 else f"transform chain {label}"
    started = time.monotonic()
    inputs = duck.locate_inputs(input_handles, owner=steps[0].owner, input_ids=input_ids)
    figures = [StepMetrics(step.node_id, step.module) for step in steps]
    deferred: list[Callable[[], None]] = []
    with (
        files.atomic_local_file(output) as local_output,
        duck.connect(external_access=False, inputs=inputs, writable=[local_output]) as con,
    ):
        relation, built = stack_steps(
            con,
            duck.input_name(0),
            steps,
            configs,
            figures,
            rows_in=input_handles[0]["rows"],
            log=logger,
            deferred=deferred,
            count_steps=count_steps,
        )
        write_started = time.monotonic()
        try:
            handle = staging.write_query(
                con, f"SELECT * FROM {relation}", local_output, output, label=label, log=logger
            )
        except with_arrow_errors(duckdb.Error, OSError) as error:
            _explain_bad_values(deferred)
            raise LogiDataTaskError(
                f"{who}: failed while running: {describe_error(error)}; check the node's config and the "
                "values in its input"
            ) from None
    meta = staging.merge_meta(input_handles)  # e.g. incremental cursors travel to the destination
    if meta:
        handle["meta"] = meta
    if input_handles[0].get("lineage"):  # only sources read with OpenLineage installed start one
        from airflow_provider_logidata.schema.lineage_graph import chain_lineage

        carried = chain_lineage(built, [name for name, _ in handle["schema"]], input_handles[0]["lineage"])
        if carried is not None:
            handle["lineage"] = carried
    figures[-1].rows_out = handle["rows"]
    figures[-1].seconds += time.monotonic() - write_started
    _carry_counts_back(figures)
    log_figures(figures, logger, started=started)
    if metrics is not None:
        metrics.extend(figures)
    return handle


def stack_steps(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    steps: Sequence[ChainStep],
    configs: Sequence[ModuleConfig],
    figures: Sequence[StepMetrics],
    *,
    rows_in: int | None,
    log: TaskLog,
    deferred: list[Callable[[], None]],
    count_steps: bool = True,
    stored: bool = True,
) -> tuple[str, list[tuple[str, list[str], str]]]:
    """Create each step's view (or temporary table) over the previous one, starting at ``relation``.

    Fills each step's figures but the last one's rows out (known once the result is written). ``stored``:
    whether reading ``relation`` only scans stored data (a staged file); when it is not (a CSV parsed
    again), no count re-reads it. Returns the last step's relation and, per step, its input relation,
    columns and SQL. A failing step raises :class:`LogiDataTaskError` naming it.
    """
    traits = [builders.step(step.module) for step in steps]
    rescans = [t.rescans(config) for t, config in zip(traits, configs, strict=True) if t is not None]
    built: list[tuple[str, list[str], str]] = []  # per step: its input relation, columns, SQL
    recomputed = not stored  # whether reading ``relation`` computes something expensive again
    for index, (step, config) in enumerate(zip(steps, configs, strict=True)):
        trait = traits[index]
        assert trait is not None  # validated() checked it
        step_started = time.monotonic()
        figure = figures[index]
        figure.rows_in = rows_in
        context = TransformContext(
            con=con,
            module=step.module,
            node_id=step.node_id,
            config=config,
            log=log,
            deferred=deferred,
            rescan_is_cheap=stored,
        )
        view = f"step_{index}"
        is_last = index == len(steps) - 1
        try:
            columns = duck.describe(con, relation)
            sql = trait.build(context, relation, columns)
            built.append((relation, [name for name, _ in columns], sql))
            materialise = trait.blocking and not is_last and any(rescans[index + 1 :])
            duck.fetch_all(con, f"CREATE TEMP {'TABLE' if materialise else 'VIEW'} {view} AS {sql}")
            stored = materialise or trait.self_materialised
            if stored:
                recomputed = False
            elif trait.blocking:
                recomputed = True
            if not is_last:
                if trait.keeps_rows:
                    figure.rows_out = rows_in
                elif count_steps and not recomputed:
                    figure.rows_out = duck.count_rows(con, view)
        except with_arrow_errors(duckdb.Error) as error:
            _explain_bad_values(deferred)
            raise LogiDataTaskError(
                f"{step.owner}: DuckDB failed running the step: {describe_error(error)}; "
                "check the node's config against its input columns and values"
            ) from None
        figure.seconds = time.monotonic() - step_started
        rows_in = figure.rows_out
        relation = view
    return relation, built


def log_figures(
    figures: Sequence[StepMetrics], log: TaskLog, *, total: str = "chain", started: float
) -> None:
    """One line per node: rows in and out and seconds; the last line adds the task's total."""
    for index, figure in enumerate(figures):
        step_line = (
            f"{figure.node_id} ({figure.module}): step {index + 1}/{len(figures)}, rows in "
            f"{_count(figure.rows_in)}, out {_count(figure.rows_out)}, {figure.seconds:.2f} s"
        )
        if index == len(figures) - 1:
            step_line += f"; {total} total {time.monotonic() - started:.2f} s"
        log.info(step_line)


def _carry_counts_back(figures: Sequence[StepMetrics]) -> None:
    """Fill unknown counts from known ones: a row-preserving step's rows in equal its rows out, and
    each step's rows in are the previous step's rows out (from the last step's exact count backwards)."""
    for index in range(len(figures) - 1, -1, -1):
        figure = figures[index]
        trait = builders.step(figure.module)
        if trait is not None and trait.keeps_rows:
            if figure.rows_in is None:
                figure.rows_in = figure.rows_out
            if figure.rows_out is None:
                figure.rows_out = figure.rows_in
        if index > 0 and figures[index - 1].rows_out is None:
            figures[index - 1].rows_out = figure.rows_in


def _explain_bad_values(deferred: Sequence[Callable[[], None]]) -> None:
    """After a failed query: run the checks folded into it, in step order; the first one finding bad
    values raises its message (column, count, examples). A check that cannot run is passed over."""
    for check in deferred:
        try:
            check()
        except duckdb.Error:
            continue


def _count(rows: int | None) -> str:
    return "?" if rows is None else str(rows)
