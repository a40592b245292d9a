"""Where a ``destination.file`` node writes, and what every file write checks first.

Shared by the single-file write (``engine.destinations``), the folder write (``engine.file_folder``) and the
cursor loads (``engine.file_cursor``): the target after the path policy, whether the columns can be CSV,
and the one message of a write that failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.files import describe_error, normalize_uri, with_conn_id
from airflow_provider_logidata.security.paths import check_write

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig


def _csv_unwritable(schema: pa.Schema) -> list[str]:
    import pyarrow as pa  # not at import: a fused path writing Parquet asks only target_uri

    nested = (pa.types.is_nested, pa.types.is_dictionary, pa.types.is_binary, pa.types.is_large_binary)
    return [
        f"{field.name!r} ({field.type})" for field in schema if any(check(field.type) for check in nested)
    ]


def write_failed(owner: str, uri: str, error: BaseException) -> LogiDataTaskError:
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


def check_csv(schema: pa.Schema, owner: str) -> None:
    unwritable = _csv_unwritable(schema)
    if unwritable:
        raise LogiDataTaskError(
            f"{owner}: column(s) {', '.join(unwritable)} cannot be written as CSV; convert them to text "
            "upstream (select_columns cast to string) or write Parquet"
        )
