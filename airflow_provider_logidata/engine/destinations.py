"""Destinations: write a staged input to its final place.

A destination module's writer (its ``ModuleDef.duckdb``, ``modules/destinations/<name>.py``) is
``write(config, node_id, handles, log) -> result dict``. The result is small (it goes to XCom): at least
``uri`` and ``rows``.

``destination.file`` streams the staged Parquet into one Parquet or CSV file through fsspec (local or
object storage) and replaces the target atomically: the new file is written under a temporary sibling
name and moved over the target only once complete; on any failure the old file is untouched and the
temporary file removed. A staged file that already is the output (Parquet in the requested codec) is
copied as is.

With ``partition_by`` or a folder ``path`` (ending in ``/``) it writes a folder instead
(``engine.file_folder``); a cursor load adds to what earlier runs wrote (``engine.file_cursor``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.cursor_state import DESTINATION_FILE
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.file_cursor import write_cursor_increment
from airflow_provider_logidata.engine.file_folder import write_folder
from airflow_provider_logidata.engine.file_target import check_csv, target_uri, write_failed
from airflow_provider_logidata.engine.files import copy_file, csv_writer, parquet_writer, stream_to_file
from airflow_provider_logidata.engine.incremental_load import DestinationIncremental
from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.base import ModuleConfig


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
        check_csv(schema, owner)
        open_writer = csv_writer(delimiter=config.delimiter, header=config.header)
    else:
        open_writer = parquet_writer(config.compression)
    try:
        stats = stream_to_file(batches, schema, uri, open_writer=open_writer, label=node_id, log=log)
    except LogiDataTaskError:
        raise
    except (OSError, pa.ArrowException) as error:
        raise write_failed(owner, uri, error) from error
    return {"uri": stats.uri, "rows": stats.rows, "format": config.format}


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
        raise write_failed(owner, uri, error) from error
    log.info(
        f"{node_id}: wrote {handle['rows']} rows to {uri} in {time.monotonic() - started:.2f} s (the staged "
        f"Parquet file already is {config.compression}: copied as is, {size / 1e6:.1f} MB)"
    )
    return {"uri": uri, "rows": handle["rows"], "format": config.format}
