"""Destinations: write a staged input to its final place.

``DESTINATIONS`` maps module names to ``write(config, node_id, handles, log) -> result dict``. The result
is small (it goes to XCom): at least ``uri`` and ``rows``.

``destination.file`` streams the staged Parquet into one Parquet or CSV file through fsspec (local or
object storage) and replaces the target atomically: the new file is written under a temporary sibling
name and moved over the target only once complete; on any failure the old file is untouched and the
temporary file removed.

With ``partition_by`` or a folder ``path`` (ending in ``/``) it writes a folder instead: pyarrow's dataset
writer streams the batches into Hive-style partition folders (``col=value/part-0.parquet``, values
percent-encoded, nulls as ``__HIVE_DEFAULT_PARTITION__``, several files per partition when many
partitions are open at once) under a temporary sibling, committed by ``files.atomic_folder`` (whole
target, or only the partitions present in the new data with ``mode="overwrite_partitions"``).
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import (
    FolderWrite,
    atomic_folder,
    copy_file,
    csv_writer,
    describe_error,
    header_quoting,
    normalize_uri,
    parquet_writer,
    stream_to_file,
    with_conn_id,
)
from airflow_provider_logidata.engine.logs import Progress, TaskLog
from airflow_provider_logidata.modules.destinations import FileDestinationConfig
from airflow_provider_logidata.security.paths import check_segment, check_write

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.base import ModuleConfig

DestinationWriter = Callable[["ModuleConfig", str, Sequence[staging.StagingHandle], TaskLog], dict[str, Any]]

DESTINATIONS: dict[str, DestinationWriter] = {}

# Hive's name for the folder of null partition values (Spark, Trino and pyarrow read it back as null).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Partitioned writes: files open at once (more partitions close and reopen files, giving several files
# per partition) and partitions one batch may spread over (pyarrow's default of 1024 is an error).
MAX_OPEN_FILES = 512
MAX_PARTITIONS = 1_000_000


def register_destination(module: str) -> Callable[[DestinationWriter], DestinationWriter]:
    def decorate(writer: DestinationWriter) -> DestinationWriter:
        DESTINATIONS[module] = writer
        return writer

    return decorate


def _csv_unwritable(schema: pa.Schema) -> list[str]:
    nested = (pa.types.is_nested, pa.types.is_dictionary, pa.types.is_binary, pa.types.is_large_binary)
    return [
        f"{field.name!r} ({field.type})" for field in schema if any(check(field.type) for check in nested)
    ]


def write_file(
    config: FileDestinationConfig,
    node_id: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    log: TaskLog,
) -> dict[str, Any]:
    """Write ``batches`` to ``config.path`` atomically; returns ``{"uri", "rows", "format"}``.

    A partitioned or folder target goes to :func:`write_folder` (its result adds ``files`` and
    ``partitions``).
    """
    owner = node_label("destination.file", node_id)
    uri = target_uri(config, owner)
    if config.partition_by or config.path.endswith("/"):
        return write_folder(config, node_id, schema, batches, log, uri=uri)
    if config.format == "csv":
        _check_csv(schema, owner)
        open_writer = csv_writer(delimiter=config.delimiter, header=config.header)
    else:
        open_writer = parquet_writer(config.compression)
    try:
        stats = stream_to_file(batches, schema, uri, open_writer=open_writer, label=node_id, log=log)
    except LogiDataTaskError:
        raise
    except (OSError, pa.ArrowException) as error:
        raise LogiDataTaskError(
            f"{owner}: could not write {uri}: {describe_error(error)}; the previous file, if any, is "
            "unchanged. Check the path, its folder permissions and the connection."
        ) from error
    return {"uri": stats.uri, "rows": stats.rows, "format": config.format}


def target_uri(config: FileDestinationConfig, owner: str) -> str:
    """Where ``config`` writes, after the path policy allowed it (``security.paths``)."""
    try:
        uri = normalize_uri(with_conn_id(config.path, config.conn_id))
        check_write(uri, shown=config.path)
    except ValueError as error:  # PolicyError included
        raise LogiDataTaskError(f"{owner}: {error}") from None
    return uri


def _check_csv(schema: pa.Schema, owner: str) -> None:
    unwritable = _csv_unwritable(schema)
    if unwritable:
        raise LogiDataTaskError(
            f"{owner}: column(s) {', '.join(unwritable)} cannot be written as CSV; convert them to text "
            "upstream (select_columns cast to string) or write Parquet"
        )


def _partitioning(config: FileDestinationConfig, schema: pa.Schema, owner: str) -> Any:
    """pyarrow's Hive partitioning of ``config.partition_by``, checked against the data's columns."""
    import pyarrow.dataset as ds

    columns = list(config.partition_by or [])
    if not columns:
        return None
    missing = [name for name in columns if name not in schema.names]
    if missing:
        raise LogiDataTaskError(
            f"{owner}: partition column(s) {', '.join(map(repr, missing))} not in the data; available "
            f"columns: {', '.join(schema.names)}. Fix 'partition_by' in the node's config."
        )
    if len(columns) == len(schema.names):
        raise LogiDataTaskError(
            f"{owner}: every column is a partition column, so the files would hold no data; keep at least "
            "one column out of 'partition_by'"
        )
    for name in columns:  # validated with the config; checked again where the folders are made
        try:
            check_segment(name, "partition column")
        except ValueError as error:
            raise LogiDataTaskError(f"{owner}: {error}") from None
    fields = [schema.field(name) for name in columns]
    nested = [f"{item.name!r} ({item.type})" for item in fields if pa.types.is_nested(item.type)]
    if nested:
        raise LogiDataTaskError(f"{owner}: cannot partition by nested column(s) {', '.join(nested)}")
    return ds.HivePartitioning(pa.schema(fields), null_fallback=NULL_PARTITION, segment_encoding="uri")


def write_folder(
    config: FileDestinationConfig,
    node_id: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    log: TaskLog,
    *,
    uri: str | None = None,
    max_open_files: int = MAX_OPEN_FILES,
    max_rows_per_file: int | None = None,
) -> dict[str, Any]:
    """Write ``batches`` as a folder of files (Hive partitions with ``partition_by``), committed atomically.

    Returns ``{"uri", "rows", "format", "files", "partitions"}``; ``uri`` is the folder, ending in ``/``.
    """
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    from airflow_provider_logidata import settings

    owner = node_label("destination.file", node_id)
    if uri is None:
        uri = target_uri(config, owner)
    partitioning = _partitioning(config, schema, owner)
    partition_columns = set(config.partition_by or [])
    data_schema = pa.schema([item for item in schema if item.name not in partition_columns])
    extension = config.format
    if config.format == "csv":
        _check_csv(data_schema, owner)
        file_format: Any = ds.CsvFileFormat()
        options = file_format.make_write_options(
            include_header=config.header,
            delimiter=config.delimiter,
            quoting_header=header_quoting(data_schema.names, config.delimiter),
        )
    else:
        file_format = ds.ParquetFileFormat()
        options = file_format.make_write_options(
            compression=None if config.compression == "none" else config.compression
        )
    group_rows = settings.batch_rows()
    if max_rows_per_file:
        group_rows = min(group_rows, max_rows_per_file)
    progress = Progress(log, node_id)
    started = time.monotonic()

    # An input that fails mid-write must not raise inside pyarrow's dataset writer: its threads pull this
    # generator, and an exception there sometimes leaves the write waiting forever (seen with pyarrow 26,
    # about one run in three of tests/unit/engine/test_partitioned_output.py), which would hang the task.
    # The writer sees the input end instead; the error is raised once it has returned, inside the atomic
    # folder, so the partial files are discarded and the target is untouched.
    input_failed: list[Exception] = []

    def counted() -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches:
                progress.add(batch.num_rows)
                yield batch
        except Exception as error:  # raised again below, after the writer has stopped
            input_failed.append(error)

    shown = uri.rstrip("/") + "/"
    try:
        with atomic_folder(uri, partitions_only=config.mode == "overwrite_partitions", log=log) as folder:
            filesystem = (
                pafs.LocalFileSystem() if folder.local else pafs.PyFileSystem(pafs.FSSpecHandler(folder.fs))
            )
            ds.write_dataset(
                pa.RecordBatchReader.from_batches(schema, counted()),
                folder.path,
                format=file_format,
                file_options=options,
                partitioning=partitioning,
                basename_template=f"part-{{i}}.{extension}",
                filesystem=filesystem,
                existing_data_behavior="overwrite_or_ignore",
                create_dir=folder.local,
                preserve_order=True,
                max_open_files=max_open_files,
                max_partitions=MAX_PARTITIONS,
                max_rows_per_file=max_rows_per_file or 0,
                max_rows_per_group=group_rows,
            )
            if input_failed:
                raise input_failed[0]
            if partitioning is None and progress.rows == 0:
                _write_empty_file(folder, config, schema)
    except LogiDataTaskError:
        raise
    except (OSError, ValueError, pa.ArrowException) as error:
        raise LogiDataTaskError(
            f"{owner}: could not write {shown}: {describe_error(error)}; the previous output, if any, is "
            "unchanged (unless the final copy into place on object storage was interrupted: running the "
            "task again completes it). Check the path, its folder permissions and the connection."
        ) from error
    files = folder.relative_files
    partitions = len({posixpath.dirname(name) for name in files}) if partitioning is not None else 0
    seconds = time.monotonic() - started
    scope = (
        "only these partitions replaced" if config.mode == "overwrite_partitions" else "whole folder replaced"
    )
    log.info(
        f"{node_id}: wrote {progress.rows} rows in {len(files)} file(s)"
        + (f" across {partitions} partition(s)" if partitioning is not None else "")
        + f" to {shown} in {seconds:.2f} s ({scope})"
    )
    return {
        "uri": shown,
        "rows": progress.rows,
        "format": config.format,
        "files": len(files),
        "partitions": partitions,
    }


def _write_empty_file(folder: FolderWrite, config: FileDestinationConfig, schema: pa.Schema) -> None:
    """No rows and no partitions: one empty file keeps the columns (and the CSV header) visible."""
    open_writer = (
        csv_writer(delimiter=config.delimiter, header=config.header)
        if config.format == "csv"
        else parquet_writer(config.compression)
    )
    with folder.fs.open(f"{folder.path}/part-0.{config.format}", "wb") as sink:
        open_writer(sink, schema).close()


@register_destination("destination.file")
def run_file_destination(
    config: ModuleConfig, node_id: str, handles: Sequence[staging.StagingHandle], log: TaskLog
) -> dict[str, Any]:
    if not isinstance(config, FileDestinationConfig):
        raise TypeError(f"destination.file expects FileDestinationConfig, got {type(config).__name__}")
    owner = node_label("destination.file", node_id)
    if len(handles) != 1:
        raise LogiDataTaskError(
            f"{owner}: needs exactly 1 input, got {len(handles)}; connect one upstream node"
        )
    if can_copy_staged(config, handles[0], owner=owner):
        return copy_staged(config, node_id, handles[0], log)
    with staging.read_staged(handles[0], owner=owner) as reader:
        return write_file(config, node_id, reader.schema, reader, log)


# Parquet codec names as the file footer spells them, per ``compression`` setting.
_FOOTER_CODECS = {"zstd": "ZSTD", "snappy": "SNAPPY", "gzip": "GZIP", "none": "UNCOMPRESSED"}


def can_copy_staged(config: FileDestinationConfig, handle: staging.StagingHandle, *, owner: str) -> bool:
    """Whether the staged file already is the requested output: one Parquet file in the requested codec.

    Read from the file's footer (a few kB), not assumed from the staging settings: every column chunk
    must use the codec, so a staged file written by another writer or setting is rewritten as before.
    """
    import pyarrow.parquet as pq

    if config.format != "parquet" or config.partition_by or config.path.endswith("/"):
        return False
    codec = _FOOTER_CODECS[config.compression]
    path = staging.staged_path(handle, owner=owner)
    with path.fs.open(path.path, "rb") as source:
        metadata = pq.ParquetFile(source).metadata
    codecs = {
        metadata.row_group(group).column(column).compression
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    }
    return codecs <= {codec}


def copy_staged(
    config: FileDestinationConfig, node_id: str, handle: staging.StagingHandle, log: TaskLog
) -> dict[str, Any]:
    """Copy the staged Parquet file to ``config.path`` as is (atomically, like every write).

    Decoding and encoding again would produce the same rows in the same format; copying the bytes
    takes a fraction of a second where rewriting takes seconds per million rows.
    """
    owner = node_label("destination.file", node_id)
    uri = target_uri(config, owner)
    started = time.monotonic()
    try:
        size = copy_file(handle["uri"], uri)
    except OSError as error:
        raise LogiDataTaskError(
            f"{owner}: could not write {uri}: {describe_error(error)}; the previous file, if any, is "
            "unchanged. Check the path, its folder permissions and the connection."
        ) from error
    log.info(
        f"{node_id}: wrote {handle['rows']} rows to {uri} in {time.monotonic() - started:.2f} s (the staged "
        f"Parquet file already is {config.compression}: copied as is, {size / 1e6:.1f} MB)"
    )
    return {"uri": uri, "rows": handle["rows"], "format": config.format}
