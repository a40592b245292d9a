"""The function layer under the operators: run one node from its config and staged inputs.

Operators call these from ``execute``; tests, the CLI and a future fused-chain executor can call them
without Airflow's context. Each takes the module's config (model instance or dict), the node id (used in
every message) and returns what the task returns through XCom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from airflow_provider_logidata.engine import builders, duck, files, staging
from airflow_provider_logidata.engine.chain import ChainStep, StepMetrics, run_chain
from airflow_provider_logidata.engine.configs import ConfigLike, module_for_config, validate_config
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.sources import DuckQuery, source_read_error

if TYPE_CHECKING:
    from collections.abc import Sequence


def run_source(
    config: ConfigLike,
    node_id: str,
    output_uri: str,
    *,
    module: str | None = None,
    log: TaskLog | None = None,
    keep_order: bool = True,
) -> staging.StagingHandle:
    """Read a source node's data into the staging file ``output_uri``; returns the staging handle.

    ``keep_order=False``: the rows may be staged in any order (when nothing downstream can observe it,
    see ``dag_factory.row_order``), so DuckDB's readers and Parquet writer run unordered in parallel.
    Sources streamed through Arrow (PostgreSQL, HTTP) stage rows as they arrive either way.
    """
    name = module_for_config(config, module)
    opener = builders.source(name)
    if opener is None:
        raise LogiDataTaskError(
            f"{node_label(name, node_id)}: not a source; known: {', '.join(builders.names('source'))}"
        )
    validated = validate_config(name, config, node_id)
    logger = get_log(log)
    try:
        with opener(validated, node_id, logger) as produced:
            if isinstance(produced, DuckQuery):
                if not keep_order:
                    duck.fetch_all(produced.con, "SET preserve_insertion_order = false")
                    logger.info(
                        f"{node_id}: staging rows in any order (every consumer's result is the same "
                        "for any row order)"
                    )
                with files.atomic_local_file(output_uri) as local:
                    handle = staging.write_query(
                        produced.con, produced.sql, local, output_uri, label=node_id, log=logger
                    )
                return handle
            return staging.write_staging(produced, output_uri, label=node_id, log=logger)
    except LogiDataTaskError:
        raise
    except (duckdb.Error, pa.ArrowException, OSError) as error:
        raise source_read_error(node_label(name, node_id), validated, error) from None


def run_transform(
    config: ConfigLike,
    node_id: str,
    input_handles: Sequence[staging.StagingHandle],
    output_uri: str,
    *,
    module: str | None = None,
    input_ids: Sequence[str] = (),
    log: TaskLog | None = None,
    metrics: list[StepMetrics] | None = None,
) -> staging.StagingHandle:
    """Run one transform node: a chain of one step (its figures appended to ``metrics`` when given)."""
    name = module_for_config(config, module)
    step = ChainStep(node_id=node_id, module=name, config=config)
    return run_chain([step], input_handles, output_uri, input_ids=input_ids, log=log, metrics=metrics)


def run_destination(
    config: ConfigLike,
    node_id: str,
    input_handles: Sequence[staging.StagingHandle],
    *,
    module: str | None = None,
    log: TaskLog | None = None,
) -> dict[str, Any]:
    """Write a destination node's staged input; returns a small result dict (``uri``, ``rows``, ...)."""
    name = module_for_config(config, module)
    writer = builders.destination(name)
    if writer is None:
        raise LogiDataTaskError(
            f"{node_label(name, node_id)}: not a destination; "
            f"known: {', '.join(builders.names('destination'))}"
        )
    validated = validate_config(name, config, node_id)
    return writer(validated, node_id, input_handles, get_log(log))
