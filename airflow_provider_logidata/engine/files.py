"""Files on any storage Airflow knows (local, s3://conn@bucket/key, ...) through one fsspec code path.

Every write goes to a hidden temporary sibling first and is moved over the target only once complete,
so a killed or failing task never leaves a half-written file that looks finished. Light at import time
(pyarrow is imported inside functions) because ``staging`` uses it from DAG-level callbacks.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from airflow_provider_logidata.engine.logs import Progress, TaskLog, get_log

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import ObjectStoragePath

TEMP_MARKER = ".tmp-"


def normalize_uri(uri: str) -> str:
    """Absolute form of a local path (``~`` expanded); URIs with a scheme are returned unchanged."""
    if "://" in uri:
        return uri
    return Path(uri).expanduser().absolute().as_posix()


def to_path(uri: str) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a local path or URI; its ``fs`` carries the Airflow connection."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(normalize_uri(uri))


def is_local(path: ObjectStoragePath) -> bool:
    return path.protocol in ("", "file", "local")


def temp_sibling(path: ObjectStoragePath) -> str:
    """fsspec path of a hidden temporary file next to ``path`` (same folder, so the move is a rename)."""
    return f"{path.parent.path.rstrip('/')}/.{path.name}{TEMP_MARKER}{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def atomic_output(uri: str) -> Iterator[BinaryIO]:
    """Open ``uri`` for writing so that it appears only once the ``with`` block completes.

    Writes go to a temporary sibling; on success it is moved over the target (an atomic rename on local
    disks, a copy of a complete object on S3); on any error the temporary file is removed and the
    previous target, if any, is left untouched.
    """
    path = to_path(uri)
    fs = path.fs
    parent = path.parent.path
    if is_local(path):
        fs.makedirs(parent, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        with fs.open(tmp, "wb") as handle:
            yield handle
        fs.mv(tmp, path.path)
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(tmp):
                fs.rm(tmp)
        raise


class FormatWriter(Protocol):
    """What ``pyarrow.parquet.ParquetWriter`` and ``pyarrow.csv.CSVWriter`` have in common."""

    def write_table(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


WriterFactory = Callable[[BinaryIO, "pa.Schema"], FormatWriter]


def parquet_writer(compression: str = "zstd") -> WriterFactory:
    """Factory of Parquet writers; ``compression`` is a pyarrow codec name or ``none``."""

    def open_writer(sink: BinaryIO, schema: pa.Schema) -> FormatWriter:
        import pyarrow.parquet as pq

        codec = None if compression == "none" else compression
        writer: FormatWriter = pq.ParquetWriter(sink, schema, compression=codec)
        return writer

    return open_writer


def csv_writer(*, delimiter: str = ",", header: bool = True) -> WriterFactory:
    """Factory of CSV writers (RFC 4180 quoting where needed, nulls as empty fields)."""

    def open_writer(sink: BinaryIO, schema: pa.Schema) -> FormatWriter:
        import pyarrow.csv as pacsv

        # Values: pyarrow quotes every text value ("needed" style), which is valid RFC 4180. The header
        # is left unquoted unless a name needs quotes, as most tools write it.
        special = (delimiter, '"', "\n", "\r")
        plain_names = not any(char in name for name in schema.names for char in special)
        options = pacsv.WriteOptions(
            include_header=header,
            delimiter=delimiter,
            quoting_header="none" if plain_names else "needed",
        )
        writer: FormatWriter = pacsv.CSVWriter(sink, schema, write_options=options)
        return writer

    return open_writer


@dataclass(frozen=True)
class WriteStats:
    uri: str
    rows: int
    batches: int
    seconds: float


def stream_to_file(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    uri: str,
    *,
    open_writer: WriterFactory,
    label: str,
    log: TaskLog | None = None,
    group_rows: int | None = None,
) -> WriteStats:
    """Stream record batches into one file at ``uri``, atomically, with progress and total log lines.

    Small batches (DuckDB hands out uneven ones) are gathered up to ``group_rows`` rows before each write,
    so Parquet row groups stay large while memory stays bounded by about one group.
    """
    import pyarrow as pa

    from airflow_provider_logidata import settings

    logger = get_log(log)
    target = group_rows or settings.batch_rows()
    progress = Progress(logger, label)
    started = time.monotonic()
    uri = normalize_uri(uri)
    with atomic_output(uri) as sink:
        writer = open_writer(sink, schema)
        try:
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            for batch in batches:
                progress.add(batch.num_rows)
                if batch.num_rows == 0:
                    continue
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= target:
                    writer.write_table(pa.Table.from_batches(pending, schema=schema))
                    pending, pending_rows = [], 0
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
        except BaseException:
            with contextlib.suppress(Exception):  # the original error matters, not the close
                writer.close()
            raise
        writer.close()
    seconds = time.monotonic() - started
    logger.info(
        f"{label}: wrote {progress.rows} rows in {progress.batches} batch(es) to {uri} in {seconds:.2f} s"
    )
    return WriteStats(uri=uri, rows=progress.rows, batches=progress.batches, seconds=seconds)


def describe_error(error: BaseException, *, max_lines: int = 3, limit: int = 600) -> str:
    """An exception as one short line for messages.

    DuckDB errors span many lines (``LINE 1: ...`` with a caret, then generic advice naming options that
    LogiData does not expose); the first few meaningful lines carry the cause.
    """
    lines = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and not line.lstrip().startswith("LINE ") and set(line.strip()) != {"^"}
    ]
    text = " ".join(lines[:max_lines]) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
