"""``destination.file`` cursor loads: a file or folder keeps what earlier runs wrote and gains the new rows.

A single file is rewritten as its old rows followed by the new ones; a folder gains new part files. The
cursor is saved as the load commits (``engine.incremental_load``).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.cursor_pending import (
    PARQUET_STATE_KEY,
    embedded_states,
    read_embedded_states,
)
from airflow_provider_logidata.engine.cursor_state import CursorState
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.file_commit import file_sizes, folder_target, relative_files
from airflow_provider_logidata.engine.file_folder import (
    MAX_OPEN_FILES,
    MAX_PARTITIONS,
    counted,
    folder_format,
    hive_partitioning,
)
from airflow_provider_logidata.engine.file_target import check_csv, target_uri, write_failed
from airflow_provider_logidata.engine.files import (
    atomic_output,
    csv_writer,
    describe_error,
    is_local,
    to_path,
)
from airflow_provider_logidata.engine.logs import Progress, TaskLog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_provider_logidata.engine.incremental_load import DestinationIncremental
    from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig


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
        check_csv(schema, owner)
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
        raise write_failed(owner, uri, error) from error
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
    partitioning = hive_partitioning(config, schema, owner)
    file_format, options = folder_format(config, schema, owner)
    target = folder_target(uri)
    if target is None:
        raise LogiDataTaskError(
            f"{owner}: a folder output needs a folder below the bucket or root, not {uri!r}"
        )
    fs, target_path = target.fs, target.path
    if fs.isfile(target_path):
        raise LogiDataTaskError(f"{owner}: {uri} is a file; a folder output cannot be written there")
    local = is_local(target.storage)
    temp = target.new_temp()
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
            pa.RecordBatchReader.from_batches(schema, counted(batches, progress, input_failed)),
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
