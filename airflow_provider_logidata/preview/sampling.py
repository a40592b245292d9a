"""Source samples: each source reads only what a preview needs, pushing the limit into the read.

- ``source.file``: the run's own DuckDB query (globs, CSV options, S3 through the connection) with
  ``LIMIT n``: DuckDB stops reading CSV after the first rows and Parquet after the first row groups.
  Random sampling is a reservoir sample over the files (a full scan, bounded by the preview's time limit).
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
    from airflow_provider_logidata.engine.sources import SOURCES, DuckQuery

    validated = _validated("source.file", config, node_id)
    with SOURCES["source.file"](validated, node_id, log) as produced:
        assert isinstance(produced, DuckQuery)
        if sampling == "random":
            repeat = f" REPEATABLE ({int(seed)})" if seed is not None else ""
            statement = f"SELECT * FROM ({produced.sql}) USING SAMPLE reservoir({rows} ROWS){repeat}"
        else:
            statement = f"{produced.sql} LIMIT {rows}"
        table = produced.con.sql(statement).to_arrow_table()
        estimate = _parquet_rows(produced.con, produced.sql)
    return SourceSample(table=table, sql=statement, row_count_estimate=estimate)


def _parquet_rows(con: Any, select: str) -> int | None:
    """Rows of Parquet inputs from their footers (no data read); unknown for CSV and JSON."""
    marker = "FROM read_parquet("
    if marker not in select:
        return None
    arguments = select.split(marker, 1)[1]
    files = arguments.split("]", 1)[0] + "]"
    try:
        rows = con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata({files})").fetchall()
        found = rows[0] if rows else None
    except Exception:  # an estimate only
        return None
    return int(found[0]) if found and found[0] is not None else None


# --- PostgreSQL ---------------------------------------------------------------------------------------


@register_sampler("source.postgres")
def sample_postgres(
    config: dict[str, Any], node_id: str, rows: int, sampling: str, seed: int | None, log: TaskLog
) -> SourceSample:
    import pyarrow as pa

    from airflow_provider_logidata.engine import postgres as pgengine
    from airflow_provider_logidata.engine.errors import node_label

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
        from airflow_provider_logidata.modules.postgres import check_select

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
        stream = stack.enter_context(pgengine.open_stream(derived, node_id, log))
        batches = list(stream.batches)
        table = pa.Table.from_batches(batches, schema=stream.schema)
    if sampling == "random" and validated.table is not None and table.num_rows < min(rows, estimate or rows):
        # The sampled pages held too few rows (small or sparse table): sample rows instead of pages.
        query = _tablesample(relation, rows, percent, seed, "BERNOULLI")
        derived = derived.model_copy(update={"query": query})
        with pgengine.open_stream(derived, node_id, log) as stream:
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
    from airflow_provider_logidata.engine import postgres as pgengine

    name = _quoted_relation(schema, table)
    with pgengine.connect(conn_id, owner=owner, node_id=node_id) as con:
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

    from airflow_provider_logidata.engine.http_api import HttpApiReader, RecordSpool, redact_url

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
