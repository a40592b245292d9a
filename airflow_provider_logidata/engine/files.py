"""Files on any storage Airflow knows (local, s3://conn@bucket/key, ...) through one fsspec code path.

Every write goes to a hidden temporary sibling first and is moved over the target only once complete,
so a killed or failing task never leaves a half-written file that looks finished. Folder outputs
(partitioned files) go through ``file_commit.atomic_folder`` the same way. Light at import time (pyarrow is
imported inside functions) because ``staging`` uses it from DAG-level callbacks.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeAlias

from airflow_provider_logidata.engine.logs import Progress, TaskLog, get_log

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

TEMP_MARKER = ".tmp-"
_LOCAL_SCHEMES = ("file", "local")
COPY_CHUNK_BYTES = 8 * 1024 * 1024


def normalize_uri(uri: str) -> str:
    """Absolute form of a local path (``~`` expanded); URIs with a scheme are returned unchanged."""
    if "://" in uri:
        return uri
    return Path(uri).expanduser().absolute().as_posix()


def with_conn_id(uri: str, conn_id: str | None) -> str:
    """``s3://bucket/key`` read through ``conn_id``: ``s3://conn_id@bucket/key``.

    URIs that already name the same connection, local paths and ``conn_id=None`` are returned unchanged;
    a URI naming another connection raises ``ValueError`` (which one was meant is unclear).
    """
    if not conn_id or "://" not in uri:
        return uri
    scheme, _, rest = uri.partition("://")
    if scheme.lower() in _LOCAL_SCHEMES:
        return uri
    netloc = rest.partition("/")[0]
    if "@" in netloc:
        named = netloc.rpartition("@")[0]
        if named != conn_id:
            raise ValueError(
                f"{uri!r} names connection {named!r} but conn_id is {conn_id!r}; keep only one of them"
            )
        return uri
    return f"{scheme}://{conn_id}@{rest}"


@dataclass(frozen=True)
class LocalPath:
    """A local file or folder with the part of ``ObjectStoragePath``'s interface the engine uses.

    Local paths skip ``ObjectStoragePath``: its first ``.fs`` imports every provider's filesystem
    (s3fs, botocore, ...), measured at 0.5-0.7 s and tens of MB in each task process that only touches
    local files.
    """

    path: str
    protocol: str = "file"

    @property
    def fs(self) -> AbstractFileSystem:
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    @property
    def parent(self) -> LocalPath:
        return LocalPath(posixpath.dirname(self.path.rstrip("/")) or "/")

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))


if TYPE_CHECKING:
    StoragePath: TypeAlias = ObjectStoragePath | LocalPath


def to_path(uri: str) -> StoragePath:
    """The path of a local path or URI: ``ObjectStoragePath`` (whose ``fs`` carries the Airflow
    connection) for object storage, :class:`LocalPath` for local files.

    Object storage without an explicit ``aws`` connection holding its own keys raises ``PolicyError``
    (``security.connections``) here, before any client is built.
    """
    normalized = normalize_uri(uri)
    scheme, separator, rest = normalized.partition("://")
    if not separator:
        return LocalPath(normalized)
    if scheme.lower() in _LOCAL_SCHEMES:
        return LocalPath(normalize_uri(rest))
    # Before any client exists: an explicit aws connection with keys of its own, never the host's identity.
    from airflow_provider_logidata.security import connections, paths

    parts = paths.split_uri(normalized)
    connections.check_storage(parts.conn_id if parts else None, normalized)
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(normalized)


def is_local(path: StoragePath) -> bool:
    return isinstance(path, LocalPath) or path.protocol in ("", "file", "local")


def temp_sibling(path: StoragePath) -> str:
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


@contextlib.contextmanager
def atomic_local_file(uri: str) -> Iterator[str]:
    """A local file path to write ``uri``'s content to (by a writer that needs a real path, e.g. DuckDB).

    On a local disk the path is a hidden temporary sibling of the target, renamed over it once the
    ``with`` block completes; on object storage it is a file in a private temporary folder, uploaded
    through :func:`atomic_output` afterwards. On any error nothing reaches ``uri`` and the temporary file
    is removed.
    """
    path = to_path(normalize_uri(uri))
    if is_local(path):
        os.makedirs(path.parent.path, exist_ok=True)
        tmp = temp_sibling(path)
        try:
            yield tmp
            os.replace(tmp, path.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return
    folder = tempfile.mkdtemp(prefix="logidata-upload-")
    try:
        local = os.path.join(folder, path.name or "part")
        yield local
        with open(local, "rb") as source, atomic_output(uri) as sink:
            shutil.copyfileobj(source, sink, COPY_CHUNK_BYTES)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_file(source_uri: str, target_uri: str) -> int:
    """Copy a file between any two storages, atomically at the target; returns the bytes copied."""
    source_path = to_path(normalize_uri(source_uri))
    copied = 0
    with source_path.fs.open(source_path.path, "rb") as source, atomic_output(target_uri) as sink:
        while chunk := source.read(COPY_CHUNK_BYTES):
            sink.write(chunk)
            copied += len(chunk)
    return copied


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


# Header names written without quotes: plain words. Anything else (a name made of code, quotes, brackets,
# the delimiter, a line break) quotes every name, so a header line is never more than a list of texts.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .\-]*")


def header_quoting(names: Sequence[str], delimiter: str) -> str:
    """pyarrow's ``quoting_header`` for ``names``: ``none`` for plain words (as most tools write a
    header), else ``needed`` (every name quoted, RFC 4180)."""
    plain = all(_PLAIN_NAME.fullmatch(name) and delimiter not in name for name in names)
    return "none" if plain else "needed"


def csv_writer(*, delimiter: str = ",", header: bool = True) -> WriterFactory:
    """Factory of CSV writers (RFC 4180 quoting where needed, nulls as empty fields)."""

    def open_writer(sink: BinaryIO, schema: pa.Schema) -> FormatWriter:
        import pyarrow.csv as pacsv

        # Values: pyarrow quotes every text value ("needed" style), which is valid RFC 4180.
        options = pacsv.WriteOptions(
            include_header=header,
            delimiter=delimiter,
            quoting_header=header_quoting(schema.names, delimiter),
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
    shown_uri: str | None = None,
) -> WriteStats:
    """Stream record batches into one file at ``uri``, atomically, with progress and total log lines.

    Small batches (DuckDB hands out uneven ones) are gathered up to ``group_rows`` rows before each write,
    so Parquet row groups stay large while memory stays bounded by about one group. ``shown_uri`` is the
    location named in the log and the result when ``uri`` is only a temporary file on the way there.
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
    shown = shown_uri or uri
    logger.info(
        f"{label}: wrote {progress.rows} rows in {progress.batches} batch(es) to {shown} in {seconds:.2f} s"
    )
    return WriteStats(uri=shown, rows=progress.rows, batches=progress.batches, seconds=seconds)


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
