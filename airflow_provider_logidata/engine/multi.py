"""Run a module with several inputs and/or several outputs (join, union, sql, route, quality_check).

The counterpart of ``chain.run_chain`` for nodes that are not one-in-one-out: every staged input is a
DuckDB view (``input_0``, ``input_1``, ... in the order of the module's ``input_ports``, else edge order),
the module's builder returns one SELECT per output port, and each is streamed into its own staging file.
Same connection setup (bounded memory, spilling, external access disabled so SQL can read only the
inputs), same error and logging conventions as a chain.

Builders are the ``duckdb`` of a module declared with ``multi=True`` (``modules/transforms/join.py``, ...),
``build(ctx, inputs) -> {port: sql}``; they may run cheap pre-queries and create temporary views or
tables (a quality check materialises its flags once for both outputs) through ``ctx``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from airflow_provider_logidata.engine import duck, files, staging
from airflow_provider_logidata.engine.configs import ConfigLike, module_for_config, validate_config
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import describe_error
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.modules.registry import registry

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


@dataclass(frozen=True)
class MultiInput:
    """One input of a multi-input node as its builder sees it."""

    ref: str  # upstream reference: ``task_id`` or ``task_id:port``
    relation: str  # the DuckDB view holding it: ``input_<n>``
    columns: Columns
    port: str | None = None  # the node's named input (a join's ``left``/``right``), None when unnamed

    @property
    def label(self) -> str:
        """``left input 'orders'`` or ``input 'orders'``, for messages."""
        return f"{self.port} input {self.ref!r}" if self.port else f"input {self.ref!r}"


MultiBuilder = Callable[["TransformContext", Sequence[MultiInput]], dict[str, str]]


def stage_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    uri: str,
    *,
    label: str,
    owner: str,
    log: TaskLog,
    local_path: str | None = None,
) -> staging.StagingHandle:
    """Stage one query's result at ``uri``; errors name ``owner`` and give a fix.

    With ``local_path`` (from ``files.atomic_local_file``, writable by ``con``) DuckDB's own Parquet
    writer writes it there; otherwise the result streams as Arrow batches into ``uri``.
    """
    try:
        if local_path is not None:
            return staging.write_query(con, sql, local_path, uri, label=label, log=log)
        reader = duck.stream(con, sql)
        return staging.write_staging(reader, uri, label=label, log=log)
    except (duckdb.Error, pa.ArrowException, OSError) as error:
        raise LogiDataTaskError(
            f"{owner}: failed while running: {describe_error(error)}; check the node's config and the "
            "values in its inputs"
        ) from None


def check_output_columns(con: duckdb.DuckDBPyConnection, sql: str, *, owner: str, port: str) -> None:
    """An output may not hold two columns of one name (compared ignoring case, as DuckDB does)."""
    seen: dict[str, str] = {}
    for row in duck.fetch_all(con, f"DESCRIBE {sql}"):  # not SELECT * FROM (...), which renames twins
        name = str(row[0])
        if name.lower() in seen:
            where = f" in output {port!r}" if port != "out" else ""
            raise LogiDataTaskError(
                f"{owner}: column {seen[name.lower()]!r} appears twice{where} (as {seen[name.lower()]!r} "
                f"and {name!r}; names are compared ignoring case); give each output column its own name"
            )
        seen[name.lower()] = name


def run_multi(
    config: ConfigLike,
    node_id: str,
    input_handles: Sequence[staging.StagingHandle],
    input_refs: Sequence[str],
    output_uri_for_port: Callable[[str], str],
    *,
    module: str | None = None,
    log: TaskLog | None = None,
) -> dict[str, staging.StagingHandle]:
    """Run one multi-input and/or multi-output node; returns ``{port: staging handle}`` in port order.

    ``input_refs`` name the inputs (``task_id`` or ``task_id:port``, as the operator reads them), in the
    order of the module's ``input_ports`` when it has named inputs. ``output_uri_for_port(port)`` says
    where each output is staged.
    """
    from airflow_provider_logidata.engine import builders
    from airflow_provider_logidata.engine.transforms import TransformContext

    name = module_for_config(config, module)
    owner = node_label(name, node_id)
    definition = registry().get(name)
    build = builders.multi(name)
    if definition is None or build is None:
        raise LogiDataTaskError(
            f"{owner}: not a multi-input or multi-output module; known: {', '.join(builders.multi_names())}"
        )
    validated = validate_config(name, config, node_id)
    logger = get_log(log)
    count = len(input_handles)
    if count < definition.min_inputs or (definition.max_inputs is not None and count > definition.max_inputs):
        raise LogiDataTaskError(
            f"{owner}: takes {definition.inputs_text()} input(s), got {count}; connect "
            + (", ".join(definition.input_ports) if definition.input_ports else "the upstream nodes")
        )
    refs = [input_refs[i] if i < len(input_refs) else duck.input_name(i) for i in range(count)]
    ports: Sequence[str | None] = definition.input_ports or [None] * count
    started = time.monotonic()
    located = duck.locate_inputs(input_handles, owner=owner, input_ids=refs)
    handles: dict[str, staging.StagingHandle] = {}
    with contextlib.ExitStack() as outputs:
        local = {
            port: outputs.enter_context(files.atomic_local_file(output_uri_for_port(port)))
            for port in definition.outputs
        }
        con = outputs.enter_context(
            duck.connect(external_access=False, inputs=located, writable=list(local.values()))
        )
        try:
            inputs = [
                MultiInput(ref, duck.input_name(i), duck.describe(con, duck.input_name(i)), port)
                for i, (ref, port) in enumerate(zip(refs, ports, strict=True))
            ]
            created: list[str] = []
            context = TransformContext(
                con=con, module=name, node_id=node_id, config=validated, log=logger, created=created
            )
            plan = build(context, inputs)
            missing = [port for port in definition.outputs if port not in plan]
            if missing:  # a builder bug, not a user error
                raise ValueError(f"{owner}: the builder returned no SQL for output(s) {missing}")
            for port in definition.outputs:
                check_output_columns(con, plan[port], owner=owner, port=port)
        except duckdb.Error as error:
            raise LogiDataTaskError(
                f"{owner}: DuckDB failed preparing the node: {describe_error(error)}; check the node's "
                "config against its input columns and values"
            ) from None
        meta = staging.merge_meta(input_handles)  # as in a chain: every output carries the inputs' meta
        for port in definition.outputs:
            label = node_id if len(definition.outputs) == 1 else f"{node_id} ({port})"
            handles[port] = stage_query(
                con,
                plan[port],
                output_uri_for_port(port),
                label=label,
                owner=owner,
                log=logger,
                local_path=local[port],
            )
            if meta:
                handles[port]["meta"] = dict(meta)
        if any(handle.get("lineage") for handle in input_handles):
            from airflow_provider_logidata.schema.lineage import temp_views
            from airflow_provider_logidata.schema.lineage_graph import carry

            views = temp_views(created)
            relations = {
                item.relation: ([column for column, _ in item.columns], handle.get("lineage"))
                for item, handle in zip(inputs, input_handles, strict=True)
            }
            for port, handle in handles.items():
                output = [column for column, _ in handle["schema"]]
                carried = carry(plan[port], relations, output, views=views)
                if carried is not None:
                    handle["lineage"] = carried
    rows_in = ", ".join(f"{ref} {handle['rows']}" for ref, handle in zip(refs, input_handles, strict=True))
    rows_out = ", ".join(f"{port} {handle['rows']}" for port, handle in handles.items())
    logger.info(f"{node_id} ({name}): rows in {rows_in}; out {rows_out}; {time.monotonic() - started:.2f} s")
    return handles


def first_output(handles: Mapping[str, staging.StagingHandle]) -> staging.StagingHandle:
    """The handle of the first output port (what a multi-output task returns through XCom)."""
    return next(iter(handles.values()))


__all__ = [
    "MultiBuilder",
    "MultiInput",
    "check_output_columns",
    "first_output",
    "run_multi",
    "stage_query",
]
