"""Staging: how tasks hand data to each other, as Parquet files plus a small JSON handle in XCom.

Layout: ``<staging>/<dag_id>/<run_id sanitized>/<task_id>/part-00000.parquet`` where ``<staging>`` is
``[logidata] staging_path`` (a local folder or any ObjectStoragePath URI such as s3://conn@bucket/prefix).
XCom carries only the handle ``{"uri", "format", "rows", "schema"}``, never data.

This module stays light at import time (no pyarrow at module level): the DAG factory attaches the cleanup
callbacks below to every DAG, so the DAG processor imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.files import normalize_uri, parquet_writer, stream_to_file, to_path
from airflow_provider_logidata.engine.logs import TaskLog, get_log

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    from airflow_provider_logidata.engine.files import StoragePath

PART_NAME = "part-00000.parquet"
STAGING_COMPRESSION = "zstd"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_SEGMENT = 200


class _HandleRequired(TypedDict):
    uri: str
    format: Literal["parquet"]
    rows: int
    schema: list[list[str]]  # [[column name, arrow type text], ...]


class StagingHandle(_HandleRequired, total=False):
    """The XCom return value of every source and transform task.

    ``meta`` (optional, small JSON) travels with the data: transforms copy their inputs' meta into their
    output (:func:`merge_meta`). Incremental sources put their cursors there (``{"cursors": [...]}``, see
    ``engine.incremental``) for the destination to commit once the data has landed.
    """

    meta: dict[str, Any]
    lineage: dict[str, Any]


def sanitize_segment(value: str) -> str:
    """A path segment of ``[A-Za-z0-9_.-]`` only, still unique per input value.

    Values that had to change (or would be ``.``/``..``) get a short hash of the original appended, so
    ``manual__2024-01-01T00:00:00+00:00`` and ``manual__2024-01-01T00_00_00_00_00`` never share a folder.
    """
    clean = _UNSAFE.sub("_", value)
    if clean.startswith("."):
        clean = "_" + clean[1:]
    if clean == value and len(clean) <= _MAX_SEGMENT:
        return clean
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]
    return f"{clean[:_MAX_SEGMENT]}-{digest}"


def _join(root: str, *segments: str) -> str:
    return "/".join([normalize_uri(root).rstrip("/"), *segments])


def run_staging_uri(dag_id: str, run_id: str, *, root: str | None = None) -> str:
    """Folder holding everything one DAG run staged."""
    return _join(root or settings.staging_path(), sanitize_segment(dag_id), sanitize_segment(run_id))


def task_output_uri(
    dag_id: str,
    run_id: str,
    task_id: str,
    *,
    map_index: int = -1,
    root: str | None = None,
    port: str | None = None,
) -> str:
    """Where one task instance stages its output; a retry overwrites the same file.

    A module with several outputs stages each under its port: ``<task>/<port>/part-00000.parquet``.
    """
    task_segment = sanitize_segment(task_id if map_index < 0 else f"{task_id}__{map_index}")
    port_segments = (sanitize_segment(port),) if port else ()
    return _join(run_staging_uri(dag_id, run_id, root=root), task_segment, *port_segments, PART_NAME)


def schema_to_json(schema: pa.Schema) -> list[list[str]]:
    return [[field.name, str(field.type)] for field in schema]


def make_handle(uri: str, rows: int, schema: pa.Schema) -> StagingHandle:
    return {"uri": uri, "format": "parquet", "rows": rows, "schema": schema_to_json(schema)}


def write_staging(
    reader: pa.RecordBatchReader | Iterator[pa.RecordBatch],
    uri: str,
    *,
    label: str,
    schema: pa.Schema | None = None,
    log: TaskLog | None = None,
    shown_uri: str | None = None,
) -> StagingHandle:
    """Stream batches into the staging file ``uri`` (atomically) and return its handle.

    ``shown_uri``: the handle's location when ``uri`` is a temporary file on the way there.
    """
    if schema is None:
        schema = getattr(reader, "schema", None)
    if schema is None:
        raise ValueError("write_staging needs a schema for a plain iterator of batches")
    stats = stream_to_file(
        reader,
        schema,
        uri,
        open_writer=parquet_writer(STAGING_COMPRESSION),
        label=label,
        log=log,
        shown_uri=shown_uri,
    )
    return make_handle(stats.uri, stats.rows, schema)


def write_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    local_path: str,
    uri: str,
    *,
    label: str,
    log: TaskLog | None = None,
) -> StagingHandle:
    """Stage a query's result: write it to ``local_path`` (see ``files.atomic_local_file``) for ``uri``.

    Written by :func:`copy_query`; the handle's schema is the written file's. The caller's connection
    must be allowed to write ``local_path``.
    """
    import pyarrow.parquet as pq

    written = copy_query(con, sql, local_path, uri, label=label, log=log)
    if isinstance(written, dict):
        return written
    return make_handle(normalize_uri(uri), written, pq.read_schema(local_path))


def copy_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    local_path: str,
    uri: str,
    *,
    label: str,
    log: TaskLog | None = None,
) -> int | StagingHandle:
    """Write a query's result to the local Parquet file ``local_path`` (shown as ``uri``) as staging
    writes it; the rows written, or the handle when pyarrow wrote it.

    DuckDB's parallel Parquet writer writes it straight from the query (no Arrow batches through Python,
    and no pyarrow import for a fused path writing its destination file); a result with a column type
    that writer stores differently from the Arrow export (see ``duck.parquet_writable``) goes through
    Arrow and pyarrow's writer instead.
    """
    from airflow_provider_logidata.engine import duck

    logger = get_log(log)
    shown = normalize_uri(uri)
    columns = [(str(row[0]), str(row[1])) for row in duck.fetch_all(con, f"DESCRIBE {sql}")]
    if not duck.parquet_writable(columns):
        reader = duck.stream(con, sql)
        return write_staging(reader, local_path, label=label, log=logger, shown_uri=shown)
    started = time.monotonic()
    rows = duck.copy_to_parquet(
        con, sql, local_path, compression=STAGING_COMPRESSION, row_group_rows=settings.batch_rows()
    )
    logger.info(f"{label}: wrote {rows} rows to {shown} in {time.monotonic() - started:.2f} s")
    return rows


def merge_meta(handles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``meta`` of several input handles combined for an output handle (lists concatenated, in order;
    for ``cursors`` one entry per key and for ``incremental`` one per (kind, DAG, source), the last one
    winning: two branches of one source joined again carry its read once; other keys: the last value)."""
    merged: dict[str, Any] = {}
    for handle in handles:
        meta = handle.get("meta")
        if not isinstance(meta, Mapping):
            continue
        for key, value in meta.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *value]
            else:
                merged[key] = list(value) if isinstance(value, list) else value
    cursors = merged.get("cursors")
    if isinstance(cursors, list):
        by_key = {c.get("key"): c for c in cursors if isinstance(c, Mapping)}
        merged["cursors"] = list(by_key.values())
    reads = merged.get("incremental")
    if isinstance(reads, list):
        by_read = {
            (r.get("kind"), r.get("dag_id"), r.get("source")): r for r in reads if isinstance(r, Mapping)
        }
        merged["incremental"] = list(by_read.values())
    return merged


def check_handle(value: Any, *, owner: str, input_id: str) -> StagingHandle:
    """Validate what an upstream task returned through XCom; explain what went wrong if it is no handle."""
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("uri"), str)
        and value.get("format") == "parquet"
        and isinstance(value.get("rows"), int)
    ):
        schema = value.get("schema") or []
        handle: StagingHandle = {
            "uri": value["uri"],
            "format": "parquet",
            "rows": value["rows"],
            "schema": [list(item) for item in schema],
        }
        if isinstance(value.get("meta"), Mapping) and value["meta"]:
            handle["meta"] = dict(value["meta"])
        if isinstance(value.get("lineage"), Mapping):
            handle["lineage"] = dict(value["lineage"])
        return handle
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:197] + "..."
    raise LogiDataTaskError(
        f"{owner}: input {input_id!r} returned no LogiData staging handle (got {shown}). "
        "Inputs must be LogiData sources or transforms that ran successfully in this DAG run; "
        f"clear {input_id!r} to run it again."
    )


def staged_path(handle: StagingHandle | str, *, owner: str = "", input_id: str = "") -> StoragePath:
    """The path of a staged output, checked to exist (a missing file gets an explanation and a fix)."""
    uri = handle if isinstance(handle, str) else handle["uri"]
    path = to_path(uri)
    if not path.fs.exists(path.path):
        who = f"{owner}: " if owner else ""
        source = f" of {input_id!r}" if input_id else ""
        raise LogiDataTaskError(
            f"{who}the staged output{source} is missing: {uri}. It may have been cleaned up after an "
            "earlier run or written to another machine's local disk; clear the upstream task to run it "
            "again, and use object storage for [logidata] staging_path when workers run on several hosts."
        )
    return path


def open_dataset(handle: StagingHandle | str, *, owner: str = "", input_id: str = "") -> ds.Dataset:
    """A streamable pyarrow dataset over a staged output (any fsspec filesystem)."""
    import pyarrow.dataset as ds

    path = staged_path(handle, owner=owner, input_id=input_id)
    return ds.dataset(path.path, filesystem=path.fs, format="parquet")


@contextlib.contextmanager
def read_staged(
    handle: StagingHandle | str, *, owner: str = "", input_id: str = "", batch_rows: int | None = None
) -> Iterator[pa.RecordBatchReader]:
    """Stream a staged output row group by row group, in file order, as a ``RecordBatchReader``.

    Reads through the path's fsspec file handle with ``ParquetFile.iter_batches``: memory stays at about
    one row group (a pyarrow dataset scan reads ahead and measured 2-3 times the memory).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = staged_path(handle, owner=owner, input_id=input_id)
    with path.fs.open(path.path, "rb") as source:
        parquet = pq.ParquetFile(source)
        batches = parquet.iter_batches(batch_size=batch_rows or settings.batch_rows())
        yield pa.RecordBatchReader.from_batches(parquet.schema_arrow, batches)


def iter_batches(handle: StagingHandle | str, *, batch_rows: int | None = None) -> Iterator[pa.RecordBatch]:
    """Every batch of a staged output, in file order (see :func:`read_staged`)."""
    with read_staged(handle, batch_rows=batch_rows) as reader:
        yield from reader


def cleanup_run_staging(
    dag_id: str, run_id: str, *, root: str | None = None, log: TaskLog | None = None
) -> bool:
    """Remove everything one DAG run staged; returns whether there was anything to remove."""
    logger = get_log(log)
    uri = run_staging_uri(dag_id, run_id, root=root)
    path = to_path(uri)
    fs = path.fs
    if not fs.exists(path.path):
        return False
    started = time.monotonic()
    fs.rm(path.path, recursive=True)
    logger.info(f"removed staging of {dag_id} / {run_id}: {uri} in {time.monotonic() - started:.2f} s")
    return True


def _run_from_context(context: Mapping[str, Any]) -> tuple[str | None, str | None]:
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", None)
    run_id = context.get("run_id") or getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None)
    return dag_id, run_id


def _cleanup_from_callback(context: Mapping[str, Any], *, when: str) -> None:
    from airflow_provider_logidata.engine.logs import log

    dag_id, run_id = _run_from_context(context)
    if not dag_id or not run_id:
        log.warning(f"LogiData staging cleanup ({when}): no dag_id/run_id in the callback context; skipped")
        return
    try:
        cleanup_run_staging(dag_id, run_id, log=log)
    except Exception as error:  # a callback must never fail the run; the files can be removed later
        log.warning(
            f"LogiData staging cleanup ({when}) of {dag_id} / {run_id} failed: {error!r}; "
            f"remove {run_staging_uri(dag_id, run_id)} by hand"
        )


def _keep_staging() -> str:
    """The setting, or ``always`` (the safe choice) when it is misconfigured: callbacks must not raise."""
    from airflow_provider_logidata.engine.logs import log

    try:
        return settings.keep_staging()
    except ValueError as error:
        log.warning(f"{error}; keeping staged data")
        return "always"


def cleanup_staging_on_success(context: Mapping[str, Any]) -> None:
    """DAG ``on_success_callback``: drop the run's staging unless ``[logidata] keep_staging = always``."""
    if _keep_staging() == "always":
        return
    _cleanup_from_callback(context, when="success")


def cleanup_staging_on_failure(context: Mapping[str, Any]) -> None:
    """DAG ``on_failure_callback``: failed runs keep staging for debugging and retries, unless ``never``."""
    if _keep_staging() != "never":
        return
    _cleanup_from_callback(context, when="failure")


__all__: Sequence[str] = (
    "PART_NAME",
    "StagingHandle",
    "check_handle",
    "cleanup_run_staging",
    "cleanup_staging_on_failure",
    "cleanup_staging_on_success",
    "iter_batches",
    "make_handle",
    "merge_meta",
    "open_dataset",
    "read_staged",
    "run_staging_uri",
    "sanitize_segment",
    "task_output_uri",
    "write_query",
    "write_staging",
)
