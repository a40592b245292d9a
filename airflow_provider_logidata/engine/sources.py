"""Sources: read external data into a stream of Arrow record batches.

A source is a context manager ``open(config, node_id, log) -> RecordBatchReader | DuckQuery`` (its
module's ``ModuleDef.duckdb``, ``modules/sources/<name>.py``); the runner streams a reader into staging,
or has DuckDB write a query's result there directly.

``source.file`` uses DuckDB's readers (CSV sniffing, Parquet, JSON lines). Local files are read by DuckDB
directly; files on object storage are read through the path's fsspec filesystem registered with DuckDB
(so the Airflow connection in ``s3://conn_id@bucket/key`` applies and no DuckDB extension is needed).

Head reads (data previews, :func:`open_files` with ``head=True``) need the first rows only, while DuckDB's
and s3fs's defaults suit full scans: 32 MB CSV buffers (a DESCRIBE sniff and a LIMIT scan each read a file
under ~64 MB whole), whole row groups of Parquet prefetched at once, and s3fs's 50 MB readahead blocks (the
first read of an object under 50 MB fetches all of it). Head reads bound all three; runs keep the defaults.
"""

from __future__ import annotations

import contextlib
import posixpath
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
from airflow_provider_logidata.engine.sql import (
    Columns,
    column_names,
    literal_list,
    quote_ident,
    quote_literal,
)
from airflow_provider_logidata.modules.sources.file import FileSourceConfig
from airflow_provider_logidata.security import paths as paths_policy

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fsspec import AbstractFileSystem

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.base import ModuleConfig


@dataclass(frozen=True)
class DuckQuery:
    """A source's data as a query on an open DuckDB connection, staged by DuckDB's own Parquet writer.

    Sources read by DuckDB (files) yield this instead of Arrow batches: the rows then never cross into
    Python, and DuckDB reads and writes with all its threads.
    """

    con: duckdb.DuckDBPyConnection
    sql: str


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

# Head reads: CSV buffer (also the longest line a head read takes; previews retry longer lines with the
# run's options) and the block of remote reads (s3fs blocks, DuckDB's external file cache blocks).
HEAD_CSV_BUFFER_BYTES = 1024 * 1024
HEAD_REMOTE_BLOCK_BYTES = 1024 * 1024
# Connection settings of head reads.
HEAD_SETTINGS = (
    # DuckDB caches what it reads of remote files, but cannot validate the cached ranges of an fsspec file
    # (measured: every statement fetched them again). A head read's database lives for one preview, so
    # validation buys nothing there, and without it the second statement (the LIMIT after the sniff)
    # reads the start of a file from memory.
    "SET validate_external_file_cache = 'NO_VALIDATION'",
    f"SET external_file_cache_remote_max_block_size = {HEAD_REMOTE_BLOCK_BYTES}",
    # Parquet page by page rather than a whole row group up front (128 MB in files written by Spark).
    "SET disable_parquet_prefetching = true",
)


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
    glob = any(char in path_text for char in GLOB_CHARS)
    checked = paths_policy.static_prefix(path_text) if glob else path_text
    try:
        if checked is None:
            raise paths_policy.PolicyError(
                f"path {path_text!r} must start with a folder, not a pattern", rule="path-not-allowed"
            )
        paths_policy.check_read(checked, shown=path_text)
        path = to_path(path_text)
    except paths_policy.PolicyError as error:
        raise LogiDataTaskError(f"{owner}: {error}") from None
    fs = path.fs
    target = path.path
    if fs.isfile(target):
        _check_each(path_text, [target], is_local(path), owner)
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
        _check_each(path_text, files, is_local(path), owner)
        return fs, files, is_local(path)
    if fs.isdir(target):
        raise LogiDataTaskError(
            f"{owner}: {path_text!r} is a folder; use a glob such as {path_text.rstrip('/')}/*.csv"
        )
    raise LogiDataTaskError(f"{owner}: file not found: {path_text!r}; check the path (and the connection)")


def _check_each(path_text: str, files: list[str], local: bool, owner: str) -> None:
    """Every file a path or glob names must itself be allowed (a symlink may point anywhere)."""
    parts = paths_policy.split_uri(path_text)
    for name in files:
        uri = name
        if not local and parts is not None:  # fsspec names objects bucket/key: put the connection back
            uri = paths_policy.StorageUri(parts.scheme, parts.conn_id, *name.partition("/")[::2]).text
        try:
            paths_policy.check_read(uri)
        except paths_policy.PolicyError as error:
            raise LogiDataTaskError(f"{owner}: {error}") from None


def _hidden_below(name: str, root: str) -> bool:
    """Whether a part of ``name`` after ``root`` (the glob's fixed folder) starts with a dot."""
    relative = name[len(root) :] if name.startswith(root) else posixpath.basename(name)
    return any(part.startswith(".") for part in relative.split("/"))


def reader_sql(config: FileSourceConfig, file_format: str, files: list[str], *, head: bool = False) -> str:
    """The DuckDB table function call reading ``files`` with the node's options.

    ``head``: for reads of the first rows only (previews), a CSV is read in 1 MB buffers by one thread
    (DuckDB's defaults read 32 MB buffers, several ahead, to scan files fast) instead of the whole start
    of the file. The type sniff keeps DuckDB's default sample (20,480 rows), the one a run sniffs:
    DuckDB takes that sample from the start of the file whatever the buffer size, so a preview shows the
    column types the run will produce. A smaller sample would read less for wide rows but could type a
    column otherwise (integers up to row 5,000 then a decimal: DOUBLE in the run, BIGINT on a 2,048-row
    sample). A head read therefore reads about the larger of 1 MB and the sample's bytes (400 KB at 20
    bytes a row, 20 MB at 1 KB a row), once.
    """
    file_list = literal_list(files)
    several = len(files) > 1
    if file_format == "csv":
        arguments = [file_list, *csv_options(config)]
        if several:
            arguments.append("union_by_name=true")
        if head:
            # One thread reads on from the sniffed buffers; the parallel reader reads ~8 buffers ahead.
            arguments += [f"buffer_size={HEAD_CSV_BUFFER_BYTES}", "parallel=false"]
        return f"read_csv({', '.join(arguments)})"
    if file_format == "parquet":
        return f"read_parquet({file_list}{', union_by_name=true' if several else ''})"
    return f"read_json({file_list}, format='newline_delimited'{', union_by_name=true' if several else ''})"


def csv_options(config: FileSourceConfig) -> list[str]:
    """The node's ``read_csv`` options as SQL (``name=value``), without the files."""
    options = config.csv
    nulls = options.null_values or [NO_NULL_STRING]
    return [
        f"delim={quote_literal(options.delimiter)}",
        f"header={'true' if options.header else 'false'}",
        f"quote={quote_literal(options.quote)}",
        f"nullstr={literal_list(nulls)}",
        f"all_varchar={'false' if config.infer_types else 'true'}",
    ]


def head_filesystem(fs: AbstractFileSystem) -> AbstractFileSystem:
    """``fs`` reading exactly the byte ranges DuckDB asks for: no readahead, 1 MB blocks (head reads).

    s3fs (like gcsfs) fetches a block past every read into a readahead cache, 50 MB by default, so the
    first read of an object under 50 MB fetches all of it. DuckDB sizes its reads itself (CSV buffers,
    Parquet column ranges, its external file cache), so a head read needs no second cache.

    A shallow copy: the instance behind ``fs`` is shared (fsspec caches instances by their options,
    Airflow each connection's filesystem), so changing it would change full reads in the same process,
    and one rebuilt from ``storage_options`` would lose what Airflow attached after construction (request
    signers on the client). The copy shares the client, session and listing cache. Filesystems without
    these settings (local ones) are returned as they are.
    """
    if not any(hasattr(fs, name) for name in ("default_block_size", "default_cache_type")):
        return fs
    head = object.__new__(type(fs))
    head.__dict__.update(vars(fs))
    head.default_block_size = HEAD_REMOTE_BLOCK_BYTES
    head.default_cache_type = "none"
    return head


@dataclass(frozen=True)
class FileRead:
    """A file source ready to read: its table function on an open connection, before anything is read.

    ``files`` are the paths on ``fs`` (what fsspec opens); ``uris`` the same files as DuckDB names them.
    """

    con: duckdb.DuckDBPyConnection
    table_sql: str
    config: FileSourceConfig
    owner: str
    file_format: str
    fs: AbstractFileSystem
    files: list[str]
    uris: list[str]

    def columns(self) -> Columns:
        """The columns DuckDB reads (CSV sniff, Parquet footers); fails naming the path and a fix."""
        try:
            return duck.describe(self.con, self.table_sql)
        except duckdb.Error as error:
            raise LogiDataTaskError(
                f"{self.owner}: cannot read {self.config.path!r} as {self.file_format}: "
                f"{describe_error(error)}; {_hint(self.file_format, self.config)}"
            ) from None

    def selection(self) -> str:
        """The SELECT list of the configured columns (all by default), unchecked."""
        if not self.config.columns:
            return "*"
        return ", ".join(quote_ident(name) for name in self.config.columns)

    def projection(self, available: Columns) -> str:
        """:meth:`selection`, failing on a configured column the files do not have."""
        names = {name for name, _ in available}
        for name in self.config.columns or []:
            if name not in names:
                raise LogiDataTaskError(
                    f"{self.owner}: column {name!r} is not in {self.config.path!r}; available columns: "
                    f"{column_names(available)}. Fix 'columns' in the node's config."
                )
        return self.selection()


@contextlib.contextmanager
def open_files(config: ModuleConfig, node_id: str, log: TaskLog, *, head: bool = False) -> Iterator[FileRead]:
    """The node's files (one file or a glob) and a DuckDB connection set up to read them.

    ``head``: the first rows only will be read (previews): bounded CSV buffers, remote files through
    :func:`head_filesystem`, and the :data:`HEAD_SETTINGS`. Runs use DuckDB's and fsspec's defaults.
    """
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
    if head and not local:
        fs = head_filesystem(fs)
    with duck.connect() as con:
        if not local:
            con.register_filesystem(fs)
        if head:
            for setting in HEAD_SETTINGS:
                duck.fetch_all(con, setting)
        table_sql = reader_sql(config, file_format, shown, head=head)
        if file_format == "csv" and len(shown) == 1 and not head:
            # A run binds the source a dozen times: one sniff, then the types written out.
            from airflow_provider_logidata.engine.csv_pin import pinned_read

            table_sql = pinned_read(con, quote_literal(shown[0]), csv_options(config), table_sql) or table_sql
        yield FileRead(
            con=con,
            table_sql=table_sql,
            config=config,
            owner=owner,
            file_format=file_format,
            fs=fs,
            files=files,
            uris=shown,
        )


@contextlib.contextmanager
def open_file_source(config: ModuleConfig, node_id: str, log: TaskLog) -> Iterator[DuckQuery]:
    """CSV, Parquet or JSON-lines files (one file or a glob) as a query over DuckDB's parallel readers."""
    with open_files(config, node_id, log) as read:
        yield DuckQuery(read.con, f"SELECT {read.projection(read.columns())} FROM {read.table_sql}")


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
