"""A file destination's pending cursor: whether the write a ``pending`` entry announced landed.

A file destination saves its cursor in two phases (``engine.incremental_load``): before the commit, its
Variable gains a ``pending`` entry naming what is about to land and the new state; after the commit, the
new state replaces both. When the second save fails, the next load of the destination finds the pending
entry and asks :func:`pending_landed`; it adopts the entry's state if the write landed, else ignores it:

- a single Parquet file, ``{"uri", "format", "bytes", "state"}``: landed when the file at ``uri`` carries
  exactly that state in its metadata (key :data:`PARQUET_STATE_KEY`, written with the data; the state
  holds its commit time, so no other write carries it);
- a single CSV file (no metadata): landed when the file at ``uri`` has exactly ``bytes`` bytes. A CSV
  cursor load only ever adds rows to a file (a load adding none writes nothing), so an attempt that did
  not land leaves no file or a shorter one; only a file changed by hand to exactly that size would be
  taken for it;
- a folder, ``{"uri", "files": {"<relative path>": <bytes>}, "state"}``: landed when every new part file
  is in the folder with its size. Part files are named after the state the load started from
  (``DestinationIncremental.write_token``), so a retry into the same folder replaces the files of its
  failed attempt anyway; the pending entry serves a folder per run (``out/{{ ts_nodash }}/``). Files are
  moved into a folder one by one: when only some of them landed, those are removed (they are that
  attempt's own files, and this load writes their rows again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.logs import TaskLog

# Key-value metadata of a single Parquet file written by a cursor load: {"<Variable key>": <state>}.
PARQUET_STATE_KEY = b"logidata.cursor_states"
# The entry of a destination's Variable naming the single file about to be committed with a new state.
PENDING = "pending"


def embedded_states(metadata: Mapping[bytes, bytes] | None) -> dict[str, Any]:
    if not metadata or PARQUET_STATE_KEY not in metadata:
        return {}
    try:
        found = json.loads(metadata[PARQUET_STATE_KEY])
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def read_embedded_states(uri: str) -> dict[str, Any] | None:
    """The cursor states a single Parquet file carries, from its footer: ``None`` when there is no file,
    ``{}`` when it is not a Parquet file. Raises ``OSError`` when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_provider_logidata.engine.files import to_path

    path = to_path(uri)
    if not path.fs.exists(path.path):
        return None
    with path.fs.open(path.path, "rb") as source:
        try:
            metadata = pq.ParquetFile(source).metadata.metadata
        except pa.ArrowInvalid:
            return {}
    return embedded_states(metadata)


def pending_landed(pending: Mapping[str, Any], key: str, *, owner: str, log: TaskLog) -> bool:
    """Whether the write a ``pending`` entry announced landed (the rules are in the module doc).

    No file, another file or a malformed entry: not landed (its rows are written again, which a write that
    never landed needs). A file or folder that cannot be read fails the load: guessing either way would
    lose or duplicate rows.
    """
    uri, state = pending.get("uri"), pending.get("state")
    if not isinstance(uri, str) or not isinstance(state, Mapping):
        return False
    from airflow_provider_logidata.engine.files import describe_error, to_path

    try:
        if "files" in pending:
            return _folder_landed(uri, pending.get("files"), log=log)
        if pending.get("format") == "csv":
            size = pending.get("bytes")
            if not isinstance(size, int) or isinstance(size, bool):
                return False
            path = to_path(uri)
            return bool(path.fs.exists(path.path)) and int(path.fs.size(path.path)) == size
        found = read_embedded_states(uri)
    except (OSError, ValueError) as error:  # PolicyError included
        raise LogiDataTaskError(
            f"{owner}: its cursor Variable {key} says an earlier load was about to commit {uri}, and "
            f"that file cannot be checked ({describe_error(error)}): without it the rows that load wrote "
            "cannot be told from new ones. Check the path and the connection, then retry. Nothing was "
            "written."
        ) from error
    return found is not None and found.get(key) == json.loads(json.dumps(state))


def _folder_landed(uri: str, files: Any, *, log: TaskLog) -> bool:
    """Whether every file of a pending folder write is in ``uri`` with its size (one listing); the files
    of a write that landed only in part are removed (see the module doc)."""
    from airflow_provider_logidata.engine.file_commit import file_sizes
    from airflow_provider_logidata.engine.files import normalize_uri, to_path

    if not isinstance(files, Mapping) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in files.values()
    ):
        return False
    path = to_path(normalize_uri(uri))
    root = path.path.rstrip("/")
    sizes = file_sizes(path.fs, root)
    present = [str(name) for name, size in files.items() if sizes.get(str(name)) == size]
    if len(present) == len(files):
        return True
    if present:
        log.info(
            f"only {len(present)} of the {len(files)} file(s) an earlier load was moving into {uri} landed: "
            "removing them (this load writes their rows again)"
        )
        path.fs.rm([f"{root}/{name}" for name in present])
    return False
