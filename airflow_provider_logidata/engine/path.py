"""Run a fused path ``source.file -> transforms -> destination`` in one task, with nothing staged.

The source's files are opened exactly as the source task opens them (``engine.sources.open_files``: the
same path policy, globs, formats and CSV options), its query becomes the view ``source_0`` on that
DuckDB connection, and the transforms stack their views over it (``engine.chain.stack_steps``). The
connection is then confined as a transform's is: DuckDB may read only the source's files, so SQL written
in a node reads or writes no other file. The last view's result streams as Arrow record batches into
the destination's load:

- ``destination.postgres``: ``engine.pg_load.load_postgres_stream``, the same single transaction, modes,
  type contract and evolve/fail/discard rules as the staged load; a bad value anywhere in the source
  fails the query while the COPY runs, and the transaction rolls back (the table is unchanged);
- ``destination.file``: ``engine.destinations.write_file``, the same atomic write (temporary sibling,
  moved over the target only once complete). A local single Parquet file in the staging codec (zstd, the
  default) is written by DuckDB's parallel Parquet writer straight from the query instead, as the source
  and chain tasks write their staged file and the destination task copies it: the same file, the
  connection then allowed to write just that temporary sibling.

Per node, the task log and the figures say rows in and out and seconds, as a fused chain's do. The
source's row count is the first step's input: carried back from the loaded rows through steps that keep
every row, else read from the query's profile (the rows its file scan produced), else one ``count(*)``
over the source after the load (metadata only for Parquet; a CSV is scanned again).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.engine import builders, duck, files, staging
from airflow_provider_logidata.engine.chain import (
    ChainStep,
    StepMetrics,
    _carry_counts_back,
    _explain_bad_values,
    log_figures,
    stack_steps,
)
from airflow_provider_logidata.engine.configs import validate_config
from airflow_provider_logidata.engine.errors import LogiDataTaskError, with_arrow_errors
from airflow_provider_logidata.engine.files import describe_error
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.sources import open_files, source_read_error
from airflow_provider_logidata.engine.sql import literal_list

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pyarrow as pa

    from airflow_provider_logidata.modules.base import ModuleConfig

# What ``run_path`` shows of its bound path: (connection, source view, last relation, per step its input
# relation, columns and SQL).
Bound = Callable[[duckdb.DuckDBPyConnection, str, str, list[tuple[str, list[str], str]]], None]

PATH_SOURCES = ("source.file",)
PATH_DESTINATIONS = ("destination.postgres", "destination.file")
SOURCE_VIEW = "source_0"
# DuckDB's reader errors (a value that breaks its column's sniffed type, a malformed line or file).
_SOURCE_ERRORS = ("CSV Error", "Malformed JSON", "Invalid Input Error: Invalid Parquet", "Corrupt Parquet")


def run_path(
    source: ChainStep,
    steps: Sequence[ChainStep],
    destination: ChainStep,
    *,
    log: TaskLog | None = None,
    count_steps: bool = True,
    metrics: list[StepMetrics] | None = None,
    bound: Bound | None = None,
) -> dict[str, Any]:
    """Read ``source``, run ``steps`` and load ``destination`` in one DuckDB connection.

    Returns the destination's result (``uri``, ``rows``, ...); appends one :class:`StepMetrics` per node
    (source, steps, destination) to ``metrics`` when given. ``bound`` is called once every step's view
    exists, before the load, with the connection, the source's view, the last relation and each step's
    (input relation, columns, SQL): what lineage needs, without binding the path a second time.
    """
    logger = get_log(log)
    if source.module not in PATH_SOURCES:
        raise LogiDataTaskError(f"{source.owner}: a fused path starts at {', '.join(PATH_SOURCES)}")
    if destination.module not in PATH_DESTINATIONS:
        raise LogiDataTaskError(f"{destination.owner}: a fused path ends at {', '.join(PATH_DESTINATIONS)}")
    source_config = validate_config(source.module, source.config, source.node_id)
    configs = [step.validated() for step in steps]
    destination_config = validate_config(destination.module, destination.config, destination.node_id)
    figures = [StepMetrics(node.node_id, node.module) for node in (source, *steps, destination)]
    label = " -> ".join(figure.node_id for figure in figures)
    started = time.monotonic()
    deferred: list[Callable[[], None]] = []
    logger.info(f"fused path {label}: one task, nothing staged between the nodes")
    with open_files(source_config, source.node_id, logger) as read, contextlib.ExitStack() as output:
        con = read.con
        try:
            source_sql = f"SELECT {read.projection(read.columns())} FROM {read.table_sql}"
            duck.fetch_all(con, f"CREATE TEMP VIEW {SOURCE_VIEW} AS {source_sql}")
        except duckdb.Error as error:
            raise source_read_error(source.owner, source_config, error) from None
        # A Parquet file as the staged file would be (DuckDB's parallel writer), written in place.
        target = _parquet_target(destination, destination_config)
        local = output.enter_context(files.atomic_local_file(target)) if target else None
        _confine(con, read.uris, [local] if local else [])
        figures[0].seconds = time.monotonic() - started
        relation, built = stack_steps(
            con,
            SOURCE_VIEW,
            steps,
            configs,
            figures[1:-1],
            rows_in=None,
            log=logger,
            deferred=deferred,
            count_steps=count_steps,
            stored=read.file_format == "parquet",
        )
        if bound is not None:
            bound(con, SOURCE_VIEW, relation, built)
        load_started = time.monotonic()
        query = f"SELECT * FROM {relation}"
        # The query's profile says how many rows the source's scan produced: no second read to count them.
        duck.fetch_all(con, "SET enable_profiling = 'no_output'")
        if target and local:
            try:
                written = staging.copy_query(con, query, local, target, label=destination.node_id, log=logger)
            except with_arrow_errors(duckdb.Error, OSError) as error:
                raise _run_error(label, source, source_config, deferred, error) from None
            rows_written = written["rows"] if isinstance(written, dict) else written
            result: dict[str, Any] = {"uri": target, "rows": rows_written, "format": "parquet"}
        else:
            try:
                reader = duck.stream(con, query)
            except with_arrow_errors(duckdb.Error) as error:
                raise _run_error(label, source, source_config, deferred, error) from None
            import pyarrow as pa

            guarded = pa.RecordBatchReader.from_batches(
                reader.schema, _guard(reader, label, source, source_config, deferred)
            )
            result = _load(destination, destination_config, guarded, logger)
        figures[-1].seconds = time.monotonic() - load_started
        rows = int(result["rows"])
        figures[-1].rows_in = figures[-1].rows_out = rows
        if len(figures) > 2:
            figures[-2].rows_out = rows
        else:
            figures[0].rows_out = rows
        _carry_counts_back(figures[1:-1])
        if len(figures) > 2:
            figures[0].rows_out = figures[1].rows_in
        if figures[0].rows_out is None:
            figures[0].rows_out = _scanned_rows(con)
        if figures[0].rows_out is None and count_steps:
            count_started = time.monotonic()
            figures[0].rows_out = duck.count_rows(con, SOURCE_VIEW)
            figures[0].seconds += time.monotonic() - count_started
        _carry_counts_forward(figures)
    log_figures(figures, logger, total="fused path", started=started)
    if metrics is not None:
        metrics.extend(figures)
    return result


def _carry_counts_forward(figures: Sequence[StepMetrics]) -> None:
    """Each node's rows in are the previous node's rows out; a step keeping every row passes them on."""
    for previous, figure in itertools.pairwise(figures):
        if figure.rows_in is None:
            figure.rows_in = previous.rows_out
        trait = builders.step(figure.module)
        if figure.rows_out is None and trait is not None and trait.keeps_rows:
            figure.rows_out = figure.rows_in


# DuckDB's file readers, as its profile names their scans.
_READERS = ("READ_CSV", "READ_CSV_AUTO", "READ_PARQUET", "PARQUET_SCAN", "READ_JSON", "READ_JSON_AUTO")


def _scanned_rows(con: duckdb.DuckDBPyConnection) -> int | None:
    """Rows the last query read from the source's files, from its profile; ``None`` when the profile
    cannot say it exactly: no file scan in it (an earlier step stored its result), a filter pushed into
    the scan (the rows counted would be the filtered ones), or scans of different sizes."""
    try:
        profile = json.loads(con.get_profiling_information(format="json"))
    except (duckdb.Error, ValueError, TypeError):
        return None
    scans: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        info = node.get("extra_info") or {}
        if node.get("type") == "TABLE_SCAN" and str(info.get("Function", "")).upper() in _READERS:
            scans.append(node)
        for child in node.get("children") or []:
            walk(child)

    for operator in profile.get("operator") or []:
        walk(operator)
    counts = {scan.get("intermediate_rows") for scan in scans}
    if not scans or len(counts) != 1 or any("Filters" in (scan.get("extra_info") or {}) for scan in scans):
        return None
    value = counts.pop()
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parquet_target(destination: ChainStep, config: ModuleConfig) -> str | None:
    """The local file a ``destination.file`` writes, when DuckDB's own Parquet writer writes it exactly as
    the separate tasks would (the staged file, in the staging codec, copied as is); else ``None``.

    The target passes the destination's path policy here (``file_target.target_uri``), as it would
    when written by the destination task.
    """
    if destination.module != "destination.file":
        return None
    from airflow_provider_logidata.engine.file_target import target_uri
    from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

    assert isinstance(config, FileDestinationConfig)
    if config.format != "parquet" or config.partition_by or config.path.endswith("/"):
        return None
    if config.compression != staging.STAGING_COMPRESSION:
        return None
    uri = target_uri(config, destination.owner)
    return uri if files.is_local(files.to_path(uri)) else None


def _confine(con: duckdb.DuckDBPyConnection, uris: Sequence[str], writable: Sequence[str] = ()) -> None:
    """From here on the connection reads the source's files only, and writes only ``writable`` (the
    task's own output file), as a transform's connection (``duck.connect``)."""
    duck.fetch_all(con, f"SET allowed_paths = {literal_list([*uris, *writable])}")
    duck.fetch_all(con, "SET enable_external_access = false")


def _load(
    destination: ChainStep, config: ModuleConfig, reader: pa.RecordBatchReader, log: TaskLog
) -> dict[str, Any]:
    if destination.module == "destination.postgres":
        from airflow_provider_logidata.engine.pg_load import load_postgres_stream
        from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

        assert isinstance(config, PostgresDestinationConfig)
        return load_postgres_stream(config, destination.node_id, reader, log)
    from airflow_provider_logidata.engine.destinations import write_file
    from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

    assert isinstance(config, FileDestinationConfig)
    return write_file(config, destination.node_id, reader.schema, reader, log)


def _guard(
    reader: pa.RecordBatchReader,
    label: str,
    source: ChainStep,
    source_config: ModuleConfig,
    deferred: Sequence[Callable[[], None]],
) -> Iterator[pa.RecordBatch]:
    """``reader``'s batches; an error while the query runs becomes a message naming the node at fault."""
    try:
        yield from reader
    except with_arrow_errors(duckdb.Error, OSError) as error:  # DuckDB's errors arrive as OSError
        raise _run_error(label, source, source_config, deferred, error) from None


def _run_error(
    label: str,
    source: ChainStep,
    source_config: ModuleConfig,
    deferred: Sequence[Callable[[], None]],
    error: BaseException,
) -> LogiDataTaskError:
    """A transform's folded check names its column and values; anything else is the source's read
    (a value that does not fit its column's type) or the query as a whole."""
    try:
        _explain_bad_values(deferred)
    except LogiDataTaskError as explained:
        return LogiDataTaskError(f"{explained}. Nothing was loaded.")
    if any(mark in str(error) for mark in _SOURCE_ERRORS):
        wrapped = source_read_error(source.owner, source_config, error)
        return LogiDataTaskError(f"{wrapped}. Nothing was loaded.")
    return LogiDataTaskError(
        f"fused path {label}: failed while running: {describe_error(error)}; check the nodes' configs and "
        "the values in the source. Nothing was loaded."
    )
