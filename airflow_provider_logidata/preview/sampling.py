"""Source samples: each source reads only what a preview needs, pushing the limit into the read.

- ``source.file``: the run's own DuckDB reader (globs, CSV options, S3 through the connection) with
  ``LIMIT n``, opened for a head read (``engine.sources.open_files(head=True)``): bounded CSV buffers, no
  readahead on object storage, Parquet page by page, so a head reads about a megabyte (or the CSV type
  sniff's 20,480 rows, the run's own sample) rather than the file. Random sampling is a reservoir sample
  over the files with the run's options (a full scan, bounded by the preview's time limit). Row count
  estimates: Parquet footers; CSV and JSON lines: the files' size over the average line length at the
  start and end of the first file (compressed files: none).
- ``source.postgres``: the run's own COPY reader over ``SELECT * FROM <table> LIMIT n`` (random:
  ``TABLESAMPLE SYSTEM (p) REPEATABLE (seed)``, p sized from the planner's row estimate, topped up with
  ``BERNOULLI`` when the pages sampled hold too few rows); a query source is wrapped as a subquery with
  ``LIMIT n`` (random: ``ORDER BY random()``, a full scan of the query, not repeatable by seed).
  Incremental filters are not applied: a preview has no run (data interval or committed cursor).
- ``source.http_api``: the first page only, with a single attempt per request.

``SAMPLERS`` maps module names to samplers, so a new source is one entry.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.sources import FileRead


@dataclass
class SourceSample:
    table: pa.Table
    sql: str | None = None  # the statement that read it (DuckDB or PostgreSQL)
    row_count_estimate: int | None = None


Sampler = Callable[[dict[str, Any], str, int, str, "int | None", "TaskLog"], SourceSample]
SAMPLERS: dict[str, Sampler] = {}


def register_sampler(module: str) -> Callable[[Sampler], Sampler]:
    def decorate(sampler: Sampler) -> Sampler:
        SAMPLERS[module] = sampler
        return sampler

    return decorate


def _validated(module: str, config: dict[str, Any], node_id: str) -> Any:
    from airflow_provider_logidata.engine.configs import validate_config

    return validate_config(module, config, node_id)


# --- files ------------------------------------------------------------------------------------------


@register_sampler("source.file")
def sample_file(
    config: dict[str, Any], node_id: str, rows: int, sampling: str, seed: int | None, log: TaskLog
) -> SourceSample:
    from airflow_provider_logidata.engine.sources import open_files

    validated = _validated("source.file", config, node_id)
    if sampling != "random":
        return _file_head(validated, node_id, rows, log)
    with open_files(validated, node_id, log) as read:
        query = f"SELECT {read.projection(read.columns())} FROM {read.table_sql}"
        repeat = f" REPEATABLE ({int(seed)})" if seed is not None else ""
        statement = f"SELECT * FROM ({query}) USING SAMPLE reservoir({rows} ROWS){repeat}"
        table = read.con.sql(statement).to_arrow_table()
        return SourceSample(table=table, sql=statement, row_count_estimate=_file_rows(read))


# The head's rows, held in the preview's DuckDB between the read and the export to Arrow.
HEAD_TABLE = "logidata_preview_head"


def _file_head(config: Any, node_id: str, rows: int, log: TaskLog) -> SourceSample:
    """The first ``rows`` rows through a head read; a CSV the bounded read fails on is read again with the
    run's options (a line longer than the head's 1 MB buffer), so a preview never fails where a run would
    not. Errors are the run's: unreadable files or a missing column name the path and the fix."""
    import duckdb

    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.engine.files import describe_error
    from airflow_provider_logidata.engine.sources import open_files

    with open_files(config, node_id, log, head=True) as read:
        try:
            return _head_sample(read, rows)
        except duckdb.Error as error:
            failed = error
        if read.file_format != "csv":  # the head settings change how much is read, not how it parses
            raise _head_error(read, failed)
        try:
            available = read.columns()
        except LogiDataTaskError:
            available = None  # unreadable with the bounded buffer: the retry decides
        if available is not None:
            read.projection(available)  # a missing column fails now, not after a second read
        log.info(
            f"{node_id}: the bounded head read failed ({describe_error(failed)}); reading again with the "
            "run's CSV options"
        )
    with open_files(config, node_id, log) as read:
        try:
            return _head_sample(read, rows)
        except duckdb.Error as error:
            failed = error
        raise _head_error(read, failed)


def _head_sample(read: FileRead, rows: int) -> SourceSample:
    statement = f"SELECT {read.selection()} FROM {read.table_sql} LIMIT {rows}"
    # One statement binds (sniffs) the reader once; a relation from con.sql binds again when it runs.
    read.con.execute(f"CREATE TEMP TABLE {HEAD_TABLE} AS {statement}")
    table = read.con.sql(f"SELECT * FROM {HEAD_TABLE}").to_arrow_table()
    return SourceSample(table=table, sql=statement, row_count_estimate=_file_rows(read))


def _head_error(read: FileRead, error: Exception) -> Exception:
    """The error a run would raise: unreadable files or a missing column (both raise here), else the read
    error itself."""
    from airflow_provider_logidata.engine.sources import source_read_error

    read.projection(read.columns())
    return source_read_error(read.owner, read.config, error)


# Bytes read at the start and at the end of a CSV or JSON-lines file to measure its average line length.
ESTIMATE_SAMPLE_BYTES = 32 * 1024


def _file_rows(read: FileRead) -> int | None:
    """Rows of the source's files, estimated without reading them; ``None`` when unknown."""
    try:
        if read.file_format == "parquet":
            return _parquet_rows(read)
        return _line_rows(read)
    except Exception:  # an estimate only: it never fails the preview
        return None


def _parquet_rows(read: FileRead) -> int | None:
    """Rows of Parquet files from their footers (exact; DuckDB has usually read the footers already)."""
    from airflow_provider_logidata.engine.sql import literal_list

    found = read.con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata({literal_list(read.uris)})")
    row = found.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _line_rows(read: FileRead) -> int | None:
    """CSV or JSON-lines rows: the files' size over the average length of the lines (header excluded)
    in ``ESTIMATE_SAMPLE_BYTES`` at the start and at the end of the first file (two small ranged reads).

    The end counts as much as the start because lines often grow along a file (sequential ids, longer
    texts later): the start alone overestimated the rows of the test files by 14-23 %. Still an estimate:
    line lengths vary, a quoted value may hold line breaks, files of a glob may differ. Exact for a single
    file that fits in the two samples. Compressed files: ``None`` (their size says little about lines).
    """
    from airflow_provider_logidata.engine.sources import COMPRESSION_SUFFIXES

    if any(name.lower().endswith(COMPRESSION_SUFFIXES) for name in read.files):
        return None
    sizes = [int(size) for size in read.fs.sizes(read.files)]
    first = sizes[0]
    whole = first <= 2 * ESTIMATE_SAMPLE_BYTES
    with read.fs.open(read.files[0], "rb") as handle:
        start = bytes(handle.read(first if whole else ESTIMATE_SAMPLE_BYTES))
        end = b""
        if not whole:
            handle.seek(first - ESTIMATE_SAMPLE_BYTES)
            end = bytes(handle.read(ESTIMATE_SAMPLE_BYTES))
    header = read.file_format == "csv" and read.config.csv.header
    header_bytes = start.find(b"\n") + 1 if header else 0
    if header and header_bytes == 0:
        return 0 if whole and len(read.files) == 1 else None  # a header alone, or a very long first line
    body = start[header_bytes:]
    if whole:
        measured, lines = len(body), _lines(body)
        if len(read.files) == 1:
            return lines
    else:
        measured = body.rfind(b"\n") + 1
        lines = body[:measured].count(b"\n")
        tail = end[end.find(b"\n") + 1 :] if b"\n" in end else b""  # from the first complete line
        measured += len(tail)
        lines += _lines(tail)
    if not lines or not measured:
        return None
    data_bytes = sum(sizes) - header_bytes * len(read.files)
    return max(0, round(data_bytes * lines / measured))


def _lines(data: bytes) -> int:
    """Lines in ``data``, the last one counted without its line break too."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# --- PostgreSQL ---------------------------------------------------------------------------------------


@register_sampler("source.postgres")
def sample_postgres(
    config: dict[str, Any], node_id: str, rows: int, sampling: str, seed: int | None, log: TaskLog
) -> SourceSample:
    import pyarrow as pa

    from airflow_provider_logidata.engine.errors import node_label
    from airflow_provider_logidata.engine.pg_read import open_stream

    validated = _validated("source.postgres", config, node_id)
    owner = node_label("source.postgres", node_id)
    estimate: int | None = None
    percent = 100.0
    if validated.table is not None:
        relation = _quoted_relation(validated.schema_name, validated.table)
        estimate, pages = _table_size(
            validated.conn_id, validated.schema_name, validated.table, owner, node_id
        )
        percent = _sample_percent(rows, estimate, pages)
        if sampling == "random":
            query = _tablesample(relation, rows, percent, seed)
        else:
            query = f"SELECT * FROM {relation} LIMIT {rows}"
    else:
        assert validated.query is not None
        from airflow_provider_logidata.modules.sources.postgres import check_select

        try:
            inner = check_select(validated.query)
        except ValueError as error:
            from airflow_provider_logidata.engine.errors import LogiDataTaskError

            raise LogiDataTaskError(f"{owner}: {error}") from None
        order = " ORDER BY random()" if sampling == "random" else ""
        query = f"SELECT * FROM (\n{inner}\n) AS logidata_preview{order} LIMIT {rows}"
    # The run's reader over a query source: same column selection, types and conversion as a run.
    derived = validated.model_copy(
        update={"table": None, "schema_name": None, "query": query, "incremental": None}
    )
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(open_stream(derived, node_id, log))
        batches = list(stream.batches)
        table = pa.Table.from_batches(batches, schema=stream.schema)
    if sampling == "random" and validated.table is not None and table.num_rows < min(rows, estimate or rows):
        # The sampled pages held too few rows (small or sparse table): sample rows instead of pages.
        query = _tablesample(relation, rows, percent, seed, "BERNOULLI")
        derived = derived.model_copy(update={"query": query})
        with open_stream(derived, node_id, log) as stream:
            table = pa.Table.from_batches(list(stream.batches), schema=stream.schema)
    return SourceSample(table=table, sql=query, row_count_estimate=estimate)


def _quoted_relation(schema: str | None, table: str) -> str:
    from airflow_provider_logidata.engine.sql import quote_ident

    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


def _table_estimate(conn_id: str, schema: str | None, table: str, owner: str, node_id: str) -> int | None:
    """PostgreSQL's own row estimate (``pg_class.reltuples``, kept by ANALYZE/autovacuum): no scan."""
    return _table_size(conn_id, schema, table, owner, node_id)[0]


def _table_size(
    conn_id: str, schema: str | None, table: str, owner: str, node_id: str
) -> tuple[int | None, int | None]:
    """(estimated rows, pages) from ``pg_class``; ``None`` where unknown (never analysed, a view)."""
    from airflow_provider_logidata.engine.pg_connect import connect

    name = _quoted_relation(schema, table)
    with connect(conn_id, owner=owner, node_id=node_id) as con:
        try:
            found = con.execute(
                "SELECT reltuples::bigint, relpages FROM pg_class WHERE oid = to_regclass(%s)", (name,)
            ).fetchone()
        except Exception:
            return None, None
    if not found or found[0] is None or int(found[0]) < 0:
        return None, None
    return int(found[0]), int(found[1] or 0) or None


def _sample_percent(rows: int, estimate: int | None, pages: int | None) -> float:
    """Three times the share of rows needed, and at least eight pages' worth: page sampling must still
    find ``rows`` rows when they are spread unevenly."""
    if not estimate:
        return 100.0
    share = 300.0 * rows / estimate
    if pages:
        share = max(share, 800.0 / pages)
    return min(100.0, max(0.001, share))


def _tablesample(relation: str, rows: int, percent: float, seed: int | None, method: str = "SYSTEM") -> str:
    repeat = f" REPEATABLE ({int(seed)})" if seed is not None else ""
    return f"SELECT * FROM {relation} TABLESAMPLE {method} ({percent:.6g}){repeat} LIMIT {rows}"


# --- HTTP APIs ----------------------------------------------------------------------------------------


@register_sampler("source.http_api")
def sample_http(
    config: dict[str, Any], node_id: str, rows: int, sampling: str, seed: int | None, log: TaskLog
) -> SourceSample:
    import pyarrow as pa

    from airflow_provider_logidata.engine.http_reader import HttpApiReader, redact_url
    from airflow_provider_logidata.engine.http_records import RecordSpool

    validated = _validated("source.http_api", config, node_id)
    # One attempt per request: a preview answers quickly or says why, it does not wait out back-offs.
    once = validated.model_copy(update={"retry": validated.retry.model_copy(update={"max_attempts": 1})})
    reader = HttpApiReader(once, node_id, log)
    with tempfile.TemporaryDirectory(prefix="logidata-preview-http-") as folder:
        spool = RecordSpool(folder)
        try:
            pages = reader.pages()
            try:
                first = next(pages, None)
            finally:
                close = getattr(pages, "close", None)
                if close is not None:
                    close()
            if first is not None:
                spool.add(first.records[:rows] if sampling == "head" else first.records)
        finally:
            spool.finish()
            reader.close()
        batches = list(spool.batches(max(rows, 1)))
        table = pa.Table.from_batches(batches, schema=spool.schema())
    if sampling == "random" and table.num_rows > rows:
        import random

        picked = sorted(random.Random(seed).sample(range(table.num_rows), rows))
        table = table.take(picked)
    return SourceSample(table=table, sql=f"{validated.method} {redact_url(reader.base_url)} (first page)")
