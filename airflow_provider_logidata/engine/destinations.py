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

import contextlib
import json
import os
import posixpath
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import (
    TEMP_FOLDER_SUFFIX,
    FolderWrite,
    atomic_folder,
    atomic_output,
    copy_file,
    csv_writer,
    describe_error,
    file_sizes,
    header_quoting,
    is_local,
    normalize_uri,
    parquet_writer,
    relative_files,
    stream_to_file,
    to_path,
    with_conn_id,
)
from airflow_provider_logidata.engine.incremental import DESTINATION_FILE, CursorState
from airflow_provider_logidata.engine.incremental_load import (
    PARQUET_STATE_KEY,
    DestinationIncremental,
    embedded_states,
    read_embedded_states,
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
        raise _write_failed(owner, uri, error) from error
    return {"uri": stats.uri, "rows": stats.rows, "format": config.format}


def _write_failed(owner: str, uri: str, error: BaseException) -> LogiDataTaskError:
    return LogiDataTaskError(
        f"{owner}: could not write {uri}: {describe_error(error)}; the previous file, if any, is "
        "unchanged. Check the path, its folder permissions and the connection."
    )


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


def _folder_format(config: FileDestinationConfig, schema: pa.Schema, owner: str) -> tuple[Any, Any]:
    """pyarrow's file format and write options of a folder's files (partition columns left out)."""
    import pyarrow.dataset as ds

    partition_columns = set(config.partition_by or [])
    data_schema = pa.schema([item for item in schema if item.name not in partition_columns])
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
    return file_format, options


def _counted(
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
    partitioning = _partitioning(config, schema, owner)
    extension = config.format
    file_format, options = _folder_format(config, schema, owner)
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
                pa.RecordBatchReader.from_batches(schema, _counted(batches, progress, input_failed)),
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
    loads = DestinationIncremental(
        handles, destination=node_id, module=DESTINATION_FILE, owner=owner, log=log
    )
    if loads.cursor is not None:
        return write_cursor_increment(config, node_id, handles[0], loads, log)
    if can_copy_staged(config, handles[0], owner=owner):
        return copy_staged(config, node_id, handles[0], log)
    with staging.read_staged(handles[0], owner=owner) as reader:
        return write_file(config, node_id, reader.schema, reader, log)


# --- cursor loads: a file keeps what earlier runs wrote ----------------------------------------------


def write_cursor_increment(
    config: FileDestinationConfig,
    node_id: str,
    handle: staging.StagingHandle,
    loads: DestinationIncremental,
    log: TaskLog,
) -> dict[str, Any]:
    """Add the rows of a cursor source that this destination does not hold yet; then save its cursor.

    A cursor read brings only what is new, so replacing the target would drop what earlier runs wrote:
    the target keeps every row it holds and gains the new ones. A single file is rewritten as its old
    rows followed by the new ones (atomically, like every write); a folder gains new part files
    ``part-<token>-<i>`` (the token is derived from the cursor state the rows were read from: a retry
    replaces the files of its failed attempt). The usual layout is one file per run
    (``out/{{ ts_nodash }}.parquet``): then every run writes a new file and nothing is rewritten.

    The cursor is saved (Airflow Variable) right after the commit, and as pending just before it (a
    Parquet file carries it in its metadata too): when the save after the commit fails, the next load
    finds what landed and adopts its cursor, even if it writes another file or folder (a path with the
    run's date; ``engine.incremental_load``), so no row is written twice.
    """
    owner = node_label("destination.file", node_id)
    uri = target_uri(config, owner)
    folder = bool(config.partition_by) or config.path.endswith("/")
    with staging.read_staged(handle, owner=owner) as reader:
        if folder:
            filtered = loads.begin_file(reader)
            result = add_to_folder(
                config,
                node_id,
                filtered.schema,
                filtered,
                log,
                uri=uri,
                token=loads.write_token(),
                before_commit=loads.before_file_commit,
            )
        else:
            embedded = _embedded_state(config, uri, loads)
            filtered = loads.begin_file(reader, embedded=embedded)
            result = append_to_file(config, node_id, filtered, log, uri=uri, loads=loads)
    loads.after_commit()
    return result


def _embedded_state(
    config: FileDestinationConfig, uri: str, loads: DestinationIncremental
) -> CursorState | None:
    """The cursor state a single Parquet target carries (``None``: no file, CSV, or none inside)."""
    if config.format != "parquet":
        return None
    try:
        states = read_embedded_states(uri)
    except (OSError, pa.ArrowException):
        return None  # not a readable Parquet file: append_to_file says so
    return CursorState.parse((states or {}).get(loads.variable_key), "the target file's metadata")


def append_to_file(
    config: FileDestinationConfig,
    node_id: str,
    reader: pa.RecordBatchReader,
    log: TaskLog,
    *,
    uri: str,
    loads: DestinationIncremental,
) -> dict[str, Any]:
    """Write ``uri`` as the rows it holds (if it exists) followed by ``reader``'s, atomically."""
    import io

    import pyarrow.parquet as pq

    from airflow_provider_logidata import settings

    owner = node_label("destination.file", node_id)
    schema = reader.schema
    if config.format == "csv":
        _check_csv(schema, owner)
    path = to_path(uri)
    exists = path.fs.exists(path.path)
    first = next(iter_nonempty(reader), None)
    if exists and first is None:
        log.info(f"{node_id}: no new rows for {uri}: the file is unchanged")
        return {"uri": uri, "rows": 0, "format": config.format}
    batches = _chain(first, reader)
    started = time.monotonic()
    new_rows = old_rows = 0
    group = settings.batch_rows()
    try:
        with atomic_output(uri) as sink:
            if config.format == "parquet":
                codec = None if config.compression == "none" else config.compression
                writer = pq.ParquetWriter(sink, schema, compression=codec)
                states: dict[str, Any] = {}
                try:
                    if exists:
                        with path.fs.open(path.path, "rb") as source:
                            old = pq.ParquetFile(source)
                            _check_same_columns(old.schema_arrow, schema, uri, owner)
                            states = embedded_states(old.metadata.metadata)
                            for batch in old.iter_batches(batch_size=group):
                                writer.write_batch(batch)
                                old_rows += batch.num_rows
                    for batch in batches:
                        writer.write_batch(batch)
                        new_rows += batch.num_rows
                    state = loads.file_state()
                    if state is not None:
                        states[loads.variable_key] = state.to_json()
                    if states:
                        writer.add_key_value_metadata({PARQUET_STATE_KEY: json.dumps(states).encode()})
                finally:
                    writer.close()
            else:
                header = config.header
                if exists:
                    header = False
                    with path.fs.open(path.path, "rb") as source:
                        expected = io.BytesIO()
                        csv_writer(delimiter=config.delimiter, header=True)(expected, schema).close()
                        head = source.read(len(expected.getvalue()))
                        if config.header and head != expected.getvalue():
                            raise LogiDataTaskError(
                                f"{owner}: {uri} does not start with the header of the new rows "
                                f"({expected.getvalue().decode(errors='replace').strip()}): a cursor "
                                "load adds rows to the file, so its columns must stay the same. Write to a "
                                "new file (a path with {{ ts_nodash }}) or move the old one away."
                            )
                        sink.write(head)
                        while chunk := source.read(8 * 1024 * 1024):
                            sink.write(chunk)
                        old_rows = -1  # not counted (a CSV is not parsed again)
                csv_out = csv_writer(delimiter=config.delimiter, header=header)(sink, schema)
                try:
                    for batch in batches:
                        csv_out.write_table(pa.Table.from_batches([batch], schema=schema))
                        new_rows += batch.num_rows
                finally:
                    csv_out.close()
            # Complete but not in place yet: the first phase of saving the cursor (raises: nothing written).
            loads.before_file_commit(uri, file_format=config.format, size=sink.tell())
    except LogiDataTaskError:
        raise
    except (OSError, pa.ArrowException) as error:
        raise _write_failed(owner, uri, error) from error
    seconds = time.monotonic() - started
    if exists:
        held = "" if old_rows < 0 else f" to the {old_rows} rows"
        log.info(
            f"{node_id}: added {new_rows} new rows{held} {uri} held, in {seconds:.2f} s (a cursor load keeps "
            "what earlier runs wrote; a path with {{ ts_nodash }} writes one file per run instead of "
            "rewriting this one)"
        )
    else:
        log.info(f"{node_id}: wrote {new_rows} rows to {uri} in {seconds:.2f} s")
    return {"uri": uri, "rows": new_rows, "format": config.format}


def iter_nonempty(reader: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    return (batch for batch in reader if batch.num_rows)


def _chain(first: pa.RecordBatch | None, rest: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from iter_nonempty(rest)


def _check_same_columns(old: pa.Schema, new: pa.Schema, uri: str, owner: str) -> None:
    if old.remove_metadata().equals(new.remove_metadata()):
        return
    shown_old = ", ".join(f"{f.name} {f.type}" for f in old)
    shown_new = ", ".join(f"{f.name} {f.type}" for f in new)
    raise LogiDataTaskError(
        f"{owner}: {uri} holds rows with columns ({shown_old}) and the new rows have ({shown_new}): a cursor "
        "load adds rows to the file, so its columns must stay the same. Write to a new file (a path with "
        "{{ ts_nodash }}) or move the old one away."
    )


def add_to_folder(
    config: FileDestinationConfig,
    node_id: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    log: TaskLog,
    *,
    uri: str,
    token: str,
    before_commit: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """Write ``batches`` as new files ``part-<token>-<i>`` into the folder ``uri``, keeping its files.

    The files are written under a hidden temporary sibling, then moved into place (renames on a local
    disk, copies on object storage); files of an earlier attempt with the same ``token`` are removed
    first, so a retry never leaves both. ``before_commit(uri, files={relative path: size})`` runs
    once they are all written, before anything moves (a cursor load saves its cursor as pending there;
    raising leaves the folder untouched).
    """
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    from airflow_provider_logidata import settings

    owner = node_label("destination.file", node_id)
    partitioning = _partitioning(config, schema, owner)
    file_format, options = _folder_format(config, schema, owner)
    target = to_path(normalize_uri(uri))
    fs = target.fs
    target_path = target.path.rstrip("/")
    parent, name = posixpath.split(target_path)
    if not parent or not name:
        raise LogiDataTaskError(
            f"{owner}: a folder output needs a folder below the bucket or root, not {uri!r}"
        )
    if fs.isfile(target_path):
        raise LogiDataTaskError(f"{owner}: {uri} is a file; a folder output cannot be written there")
    local = is_local(target)
    temp = f"{parent}/.{name}{TEMP_FOLDER_SUFFIX}/{int(time.time())}-{uuid.uuid4().hex[:12]}"
    if local:
        fs.makedirs(temp, exist_ok=True)
    progress = Progress(log, node_id)
    started = time.monotonic()
    input_failed: list[Exception] = []

    prefix = f"part-{token}-"
    shown = target_path + "/"
    try:
        filesystem = pafs.LocalFileSystem() if local else pafs.PyFileSystem(pafs.FSSpecHandler(fs))
        ds.write_dataset(
            pa.RecordBatchReader.from_batches(schema, _counted(batches, progress, input_failed)),
            temp,
            format=file_format,
            file_options=options,
            partitioning=partitioning,
            basename_template=prefix + "{i}." + config.format,
            filesystem=filesystem,
            existing_data_behavior="overwrite_or_ignore",
            create_dir=local,
            preserve_order=True,
            max_open_files=MAX_OPEN_FILES,
            max_partitions=MAX_PARTITIONS,
            max_rows_per_group=settings.batch_rows(),
        )
        if input_failed:
            raise input_failed[0]
        sizes = file_sizes(fs, temp) if progress.rows else {}
        new_files = sorted(sizes)
        if before_commit is not None:
            before_commit(uri, files=sizes)
        earlier = [f for f in relative_files(fs, target_path) if posixpath.basename(f).startswith(prefix)]
        stale = [f for f in earlier if f not in set(new_files)]
        if stale:
            log.info(f"{node_id}: removing {len(stale)} file(s) of an earlier attempt at the same rows")
            fs.rm([f"{target_path}/{f}" for f in stale])
        for relative in new_files:
            source, destination = f"{temp}/{relative}", f"{target_path}/{relative}"
            if local:
                os.makedirs(posixpath.dirname(destination), exist_ok=True)
                os.replace(source, destination)
            else:
                fs.copy(source, destination)
        with contextlib.suppress(Exception):
            fs.invalidate_cache(target_path)
    except LogiDataTaskError:
        raise
    except (OSError, ValueError, pa.ArrowException) as error:
        raise LogiDataTaskError(
            f"{owner}: could not add files to {shown}: {describe_error(error)}; the files it held are "
            "unchanged. Check the path, its folder permissions and the connection."
        ) from error
    finally:
        with contextlib.suppress(Exception):
            fs.invalidate_cache(temp)
            if fs.exists(temp):
                fs.rm(temp, recursive=True)
        if local:
            with contextlib.suppress(OSError):
                os.rmdir(posixpath.dirname(temp))  # the temporary root, when no other write uses it
    partitions = len({posixpath.dirname(f) for f in new_files}) if partitioning is not None else 0
    log.info(
        f"{node_id}: added {progress.rows} new rows in {len(new_files)} file(s) to {shown} in "
        f"{time.monotonic() - started:.2f} s (a cursor load keeps the files earlier runs wrote)"
    )
    return {
        "uri": shown,
        "rows": progress.rows,
        "format": config.format,
        "files": len(new_files),
        "partitions": partitions,
    }


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
