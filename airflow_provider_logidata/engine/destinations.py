"""Destinations: write a staged input to its final place.

``DESTINATIONS`` maps module names to ``write(config, node_id, handles, log) -> result dict``. The result
is small (it goes to XCom): at least ``uri`` and ``rows``.

``destination.file`` streams the staged Parquet into one Parquet or CSV file through fsspec (local or
object storage) and replaces the target atomically: the new file is written under a temporary sibling
name and moved over the target only once complete; on any failure the old file is untouched and the
temporary file removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import (
    csv_writer,
    describe_error,
    normalize_uri,
    parquet_writer,
    stream_to_file,
)
from airflow_provider_logidata.engine.logs import TaskLog
from airflow_provider_logidata.modules.destinations import FileDestinationConfig

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.base import ModuleConfig

DestinationWriter = Callable[["ModuleConfig", str, Sequence[staging.StagingHandle], TaskLog], dict[str, Any]]

DESTINATIONS: dict[str, DestinationWriter] = {}


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
    """Write ``batches`` to ``config.path`` atomically; returns ``{"uri", "rows", "format"}``."""
    owner = node_label("destination.file", node_id)
    if config.format == "csv":
        unwritable = _csv_unwritable(schema)
        if unwritable:
            raise LogiDataTaskError(
                f"{owner}: column(s) {', '.join(unwritable)} cannot be written as CSV; convert them to text "
                "upstream (select_columns cast to string) or write Parquet"
            )
        open_writer = csv_writer(delimiter=config.delimiter, header=config.header)
    else:
        open_writer = parquet_writer(config.compression)
    uri = normalize_uri(config.path)
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
    with staging.read_staged(handles[0], owner=owner) as reader:
        return write_file(config, node_id, reader.schema, reader, log)
