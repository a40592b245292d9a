"""``destination.file`` folder outputs: a whole folder (Hive partitions with ``partition_by``) per write.

pyarrow's dataset writer streams the batches into Hive-style partition folders (``col=value/part-0.parquet``,
values percent-encoded, nulls as ``__HIVE_DEFAULT_PARTITION__``, several files per partition when many
partitions are open at once) under a temporary sibling, committed by ``file_commit.atomic_folder`` (whole
target, or only the partitions present in the new data with ``mode="overwrite_partitions"``). The cursor
loads (``engine.file_cursor``) reuse the partitioning and the file options.
"""

from __future__ import annotations

import posixpath
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.file_commit import FolderWrite, atomic_folder
from airflow_provider_logidata.engine.file_target import check_csv, target_uri
from airflow_provider_logidata.engine.files import (
    csv_writer,
    describe_error,
    header_quoting,
    parquet_writer,
)
from airflow_provider_logidata.engine.logs import Progress, TaskLog
from airflow_provider_logidata.security.paths import check_segment

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

# Hive's name for the folder of null partition values (Spark, Trino and pyarrow read it back as null).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Partitioned writes: files open at once (more partitions close and reopen files, giving several files
# per partition) and partitions one batch may spread over (pyarrow's default of 1024 is an error).
MAX_OPEN_FILES = 512
MAX_PARTITIONS = 1_000_000


def hive_partitioning(config: FileDestinationConfig, schema: pa.Schema, owner: str) -> Any:
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


def folder_format(config: FileDestinationConfig, schema: pa.Schema, owner: str) -> tuple[Any, Any]:
    """pyarrow's file format and write options of a folder's files (partition columns left out)."""
    import pyarrow.dataset as ds

    partition_columns = set(config.partition_by or [])
    data_schema = pa.schema([item for item in schema if item.name not in partition_columns])
    if config.format == "csv":
        check_csv(data_schema, owner)
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
    return file_format, options


def counted(
    batches: Iterable[pa.RecordBatch], progress: Progress, failed: list[Exception]
) -> Iterator[pa.RecordBatch]:
    """The input for pyarrow's dataset writer: counted, and ending (not raising) when the input fails.

    The error goes into ``failed``, raised again by the caller once the writer has stopped (see
    ``write_folder``).
    """
    try:
        for batch in batches:
            progress.add(batch.num_rows)
            yield batch
    except Exception as error:
        failed.append(error)


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
    partitioning = hive_partitioning(config, schema, owner)
    extension = config.format
    file_format, options = folder_format(config, schema, owner)
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

    shown = uri.rstrip("/") + "/"
    try:
        with atomic_folder(uri, partitions_only=config.mode == "overwrite_partitions", log=log) as folder:
            filesystem = (
                pafs.LocalFileSystem() if folder.local else pafs.PyFileSystem(pafs.FSSpecHandler(folder.fs))
            )
            ds.write_dataset(
                pa.RecordBatchReader.from_batches(schema, counted(batches, progress, input_failed)),
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
