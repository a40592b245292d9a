"""Sources: read external data into a stream of Arrow record batches.

A source is a context manager ``open(config, node_id, log) -> RecordBatchReader | DuckQuery``; the runner
streams a reader into staging, or has DuckDB write a query's result there directly. ``SOURCES`` maps
module names to them, so new sources are one entry.

``source.file`` uses DuckDB's readers (CSV sniffing, Parquet, JSON lines). Local files are read by DuckDB
directly; files on object storage are read through the path's fsspec filesystem registered with DuckDB
(so the Airflow connection in ``s3://conn_id@bucket/key`` applies and no DuckDB extension is needed).
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.engine import duck
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.files import (
    describe_error,
    is_local,
    normalize_uri,
    to_path,
    with_conn_id,
)
from airflow_provider_logidata.engine.logs import TaskLog
from airflow_provider_logidata.engine.sql import column_names, literal_list, quote_ident, quote_literal
from airflow_provider_logidata.modules.sources import FileSourceConfig

if TYPE_CHECKING:
    import pyarrow as pa
    from fsspec import AbstractFileSystem

    from airflow_provider_logidata.modules.base import ModuleConfig


@dataclass(frozen=True)
class DuckQuery:
    """A source's data as a query on an open DuckDB connection, staged by DuckDB's own Parquet writer.

    Sources read by DuckDB (files) yield this instead of Arrow batches: the rows then never cross into
    Python, and DuckDB reads and writes with all its threads.
    """

    con: duckdb.DuckDBPyConnection
    sql: str


SourceOpener = Callable[
    ["ModuleConfig", str, TaskLog],
    contextlib.AbstractContextManager["pa.RecordBatchReader | DuckQuery"],
]

SOURCES: dict[str, SourceOpener] = {}

EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
# Compression suffixes DuckDB decompresses on its own (``orders.csv.gz``).
COMPRESSION_SUFFIXES = (".gz", ".zst")
GLOB_CHARS = ("*", "?", "[")
# DuckDB needs at least one null string; this one stands for "no text is null" (null_values = []).
NO_NULL_STRING = "\x01logidata-no-null\x01"


def register_source(module: str) -> Callable[[SourceOpener], SourceOpener]:
    def decorate(opener: SourceOpener) -> SourceOpener:
        SOURCES[module] = opener
        return opener

    return decorate


def format_of(file_path: str, *, owner: str) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from a file name's extension (compression suffix ignored)."""
    name = posixpath.basename(file_path).lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    extension = posixpath.splitext(name)[1]
    if extension not in EXTENSIONS:
        shown = extension or "(none)"
        raise LogiDataTaskError(
            f"{owner}: cannot tell the format of {file_path!r} from its extension {shown}; "
            f"known extensions: {', '.join(EXTENSIONS)}. Set format to csv, parquet or jsonl."
        )
    return EXTENSIONS[extension]


def expand_path(path_text: str, *, owner: str) -> tuple[AbstractFileSystem, list[str], bool]:
    """The filesystem and the sorted files a path or glob names; fails naming the path or pattern.

    Hidden files and folders (names starting with ``.``) below the pattern's fixed part never match a
    glob: they include the temporary files and folders of writes still in progress.
    """
    path = to_path(path_text)
    fs = path.fs
    target = path.path
    if fs.isfile(target):
        return fs, [target], is_local(path)
    if any(char in target for char in GLOB_CHARS):
        matches = fs.glob(target, detail=True)
        fixed = target[: min(target.find(char) for char in GLOB_CHARS if char in target)]
        root = fixed[: fixed.rfind("/") + 1]
        files = sorted(
            name
            for name, info in matches.items()
            if info.get("type") == "file" and not _hidden_below(name, root)
        )
        if not files:
            raise LogiDataTaskError(
                f"{owner}: no file matches {path_text!r}; check the pattern and that the files exist"
            )
        return fs, files, is_local(path)
    if fs.isdir(target):
        raise LogiDataTaskError(
            f"{owner}: {path_text!r} is a folder; use a glob such as {path_text.rstrip('/')}/*.csv"
        )
    raise LogiDataTaskError(f"{owner}: file not found: {path_text!r}; check the path (and the connection)")


def _hidden_below(name: str, root: str) -> bool:
    """Whether a part of ``name`` after ``root`` (the glob's fixed folder) starts with a dot."""
    relative = name[len(root) :] if name.startswith(root) else posixpath.basename(name)
    return any(part.startswith(".") for part in relative.split("/"))


def reader_sql(config: FileSourceConfig, file_format: str, files: list[str]) -> str:
    """The DuckDB table function call reading ``files`` with the node's options."""
    file_list = literal_list(files)
    several = len(files) > 1
    if file_format == "csv":
        options = config.csv
        nulls = options.null_values or [NO_NULL_STRING]
        arguments = [
            file_list,
            f"delim={quote_literal(options.delimiter)}",
            f"header={'true' if options.header else 'false'}",
            f"quote={quote_literal(options.quote)}",
            f"nullstr={literal_list(nulls)}",
            f"all_varchar={'false' if config.infer_types else 'true'}",
        ]
        if several:
            arguments.append("union_by_name=true")
        return f"read_csv({', '.join(arguments)})"
    if file_format == "parquet":
        return f"read_parquet({file_list}{', union_by_name=true' if several else ''})"
    return f"read_json({file_list}, format='newline_delimited'{', union_by_name=true' if several else ''})"


@register_source("source.file")
@contextlib.contextmanager
def open_file_source(config: ModuleConfig, node_id: str, log: TaskLog) -> Iterator[DuckQuery]:
    """CSV, Parquet or JSON-lines files (one file or a glob) as a query over DuckDB's parallel readers."""
    if not isinstance(config, FileSourceConfig):
        raise TypeError(f"source.file expects FileSourceConfig, got {type(config).__name__}")
    owner = node_label("source.file", node_id)
    try:
        path_text = with_conn_id(config.path, config.conn_id)
    except ValueError as error:
        raise LogiDataTaskError(f"{owner}: {error}") from None
    fs, files, local = expand_path(path_text, owner=owner)
    if config.format == "auto":
        formats = {format_of(name, owner=owner) for name in files}
        if len(formats) > 1:
            raise LogiDataTaskError(
                f"{owner}: {config.path!r} matches files of several formats ({', '.join(sorted(formats))}); "
                "narrow the pattern or set format"
            )
        file_format = formats.pop()
    else:
        file_format = config.format
    shown = [normalize_uri(name) if local else fs.unstrip_protocol(name) for name in files]
    preview = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    log.info(f"{node_id}: reading {len(files)} {file_format} file(s): {preview}")
    with duck.connect() as con:
        if not local:
            con.register_filesystem(fs)
        table_sql = reader_sql(config, file_format, shown)
        try:
            available = duck.describe(con, table_sql)
        except duckdb.Error as error:
            raise LogiDataTaskError(
                f"{owner}: cannot read {config.path!r} as {file_format}: {describe_error(error)}; "
                f"{_hint(file_format, config)}"
            ) from None
        if config.columns:
            selected = []
            for name in config.columns:
                match = [column for column, _ in available if column == name]
                if not match:
                    raise LogiDataTaskError(
                        f"{owner}: column {name!r} is not in {config.path!r}; available columns: "
                        f"{column_names(available)}. Fix 'columns' in the node's config."
                    )
                selected.append(quote_ident(name))
            projection = ", ".join(selected)
        else:
            projection = "*"
        yield DuckQuery(con, f"SELECT {projection} FROM {table_sql}")


def _hint(file_format: str, config: FileSourceConfig) -> str:
    if file_format == "csv":
        if config.infer_types:
            return (
                "check the CSV options (delimiter, quote, header) or set infer_types to false to read every "
                "column as text"
            )
        return "check the CSV options (delimiter, quote, header)"
    if file_format == "jsonl":
        return "JSON files must hold one JSON object per line (JSON lines)"
    return "check that the files are valid Parquet"


def source_read_error(owner: str, config: Any, error: BaseException) -> LogiDataTaskError:
    """Wrap an error raised while batches stream out of a source (e.g. a CSV value breaking the type)."""
    path = getattr(config, "path", None)
    where = f" {path!r}" if path else ""
    hint = ""
    if isinstance(config, FileSourceConfig) and config.infer_types:
        hint = (
            "; if a value does not fit the type detected for its column, set infer_types to false to read "
            "every column as text"
        )
    return LogiDataTaskError(f"{owner}: failed reading{where}: {describe_error(error)}{hint}")
