"""The data-location browser: the roots a pipeline may read under, and one folder's children.

The builder's path picker must offer exactly what a config path field accepts, so every decision about
what is allowed is the path policy's (``security.paths``: allowed roots and prefixes, never-allowed
locations, symlinks and ``..`` resolved, connections tied to prefixes) and the storage connection rules'
(``security.connections``, applied by ``engine.files.to_path``, the code that opens s3 URIs in runs and
previews). This module only refuses input the policy cannot judge sensibly (a relative path, whose
meaning depends on the api-server's working folder; a connection id that cannot be part of a URI; an
over-long string) and turns the policy's answers into listings. The folder itself and every child are
checked, so a symlink out of a root is neither listed nor browsable.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from airflow_provider_logidata import settings
from airflow_provider_logidata.api.locations_models import (
    EntryKind,
    Location,
    LocationEntry,
    LocationListing,
)
from airflow_provider_logidata.security import paths
from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.spec.errors import short_repr

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Entries in one answer: enough for any folder a person picks from; more is a sign to narrow the path.
MAX_ENTRIES = 1000
# Names read from one local folder before giving up on the rest (marked truncated): bounds the memory
# and time one request can take on a folder of millions of files.
MAX_SCANNED = 100_000
# Linux's PATH_MAX; S3 keys are at most 1,024 bytes. Longer input is refused before the policy sees it.
MAX_URI_LENGTH = 4096
# A connection id that can stand in ``s3://conn_id@bucket``: Airflow also allows '/', ':' and more,
# which would change how the URI is split.
CONN_ID = re.compile(r"[\w.\-]{1,250}")
CONN_ID_RULE = "letters, digits, '_', '-' and '.', at most 250 characters"
# An entry's size and modification time, read only for the entries answered (a stat each, locally).
Details: TypeAlias = "Callable[[], tuple[int | None, dt.datetime | None]]"


class BrowseError(Exception):
    """A refused or failed browse: the HTTP status, a sentence naming the input and the rule it broke."""

    def __init__(self, status: int, message: str, *, rule: str, param: str = "uri") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rule = rule
        self.param = param

    @property
    def detail(self) -> str:
        return f"cannot browse: {self.message} (rule: {self.rule})"


# ---------------------------------------------------------------------------------------------- roots


def allowed_locations() -> list[Location]:
    """Every root of ``[logidata] allowed_paths`` a pipeline may read, local folders first.

    A local root the policy refuses to read anyway (configured inside a never-allowed location) and
    object-storage roots of schemes the engine cannot open are left out: they would only lead to errors.
    """
    found: dict[tuple[str, str, str | None], Location] = {}
    for root in settings.allowed_paths():
        parts = paths.split_uri(root)
        location = _local_root(root) if parts is None else _object_root(parts)
        if location is not None:
            found.setdefault((location.kind, location.uri, location.conn_id), location)
    return sorted(found.values(), key=lambda item: item.kind != "local")


def _local_root(root: str) -> Location | None:
    path = paths.local_path(root)
    if path is None or not _allowed(path):
        return None
    if path == paths.local_path(settings.data_path()):
        label = "Data folder"
    elif path == paths.local_path(settings.staging_path()):
        label = "Staging folder (read only: written by LogiData itself)"
    else:
        label = f"Folder {path}"
    return Location(kind="local", uri=path, label=label, conn_id=None, browsable=True)


def _object_root(parts: paths.StorageUri) -> Location | None:
    if parts.scheme not in paths.OBJECT_SCHEMES:
        return None
    any_bucket = parts.bucket in ("", "*")
    key = parts.key.strip("/")
    label = "Any S3 bucket" if any_bucket else f"S3 bucket {parts.bucket}"
    if key:
        label += f", under {key}/"
    if parts.conn_id:
        label += f" (connection {parts.conn_id})"
    uri = paths.StorageUri(parts.scheme, None, "*" if any_bucket else parts.bucket, key).text
    return Location(kind="s3", uri=uri, label=label, conn_id=parts.conn_id, browsable=not any_bucket)


def _allowed(uri: str) -> bool:
    try:
        paths.check_read(uri)
    except PolicyError:
        return False
    return True


def _is_root(kind: str, same: Callable[[str], bool]) -> bool:
    """Whether a configured root (the roots' own listing) is the browsed location (``same``)."""
    return any(location.kind == kind and same(location.uri) for location in allowed_locations())


# ---------------------------------------------------------------------------------------------- browse


@dataclass(frozen=True)
class _Candidate:
    """A child found in a listing, before the policy's verdict on it."""

    kind: EntryKind
    name: str
    uri: str  # as answered (the form the request used)
    checked: str  # as the policy sees it (the connection always in an s3 URI)
    details: Details


def browse(uri: str, conn_id: str | None = None, *, limit: int = MAX_ENTRIES) -> LocationListing:
    """The readable children of the folder or prefix ``uri`` (``conn_id``: the connection of a plain
    ``s3://bucket/key``, as in a module's ``conn_id`` field; ignored for local paths).

    Raises :class:`BrowseError`: 400 for input the policy refuses or cannot judge, 404 for a location
    that does not exist (an allowed root with nothing in it yet is an empty listing), 502 when the
    storage fails.
    """
    if not uri:
        raise BrowseError(400, "uri is empty; name a folder from GET /locations", rule="uri-empty")
    if len(uri) > MAX_URI_LENGTH:
        raise BrowseError(
            400,
            f"uri {short_repr(uri)} is {len(uri)} characters long, over the {MAX_URI_LENGTH} allowed",
            rule="uri-too-long",
        )
    if conn_id and not CONN_ID.fullmatch(conn_id):
        raise BrowseError(
            400,
            f"conn_id {short_repr(conn_id)} cannot name a connection in an s3 URI: use {CONN_ID_RULE}",
            rule="connection-id",
            param="conn_id",
        )
    if paths.split_uri(uri) is None:
        return _browse_local(uri, limit)
    return _browse_object(uri, conn_id or None, limit)


def _check(uri: str) -> str:
    """The policy's read check (what a source field of this value gets), its refusal a 400 naming the
    rule: browsing shows names, sizes and times, so it needs no more and no less than reading."""
    try:
        return paths.check_read(uri)
    except PolicyError as error:
        raise BrowseError(400, str(error), rule=error.rule) from None


def _browse_local(uri: str, limit: int) -> LocationListing:
    real = _check(uri)  # control characters, never-allowed locations, roots (symlinks and '..' resolved)
    named = uri.partition("://")[2] if "://" in uri else uri
    if not os.path.isabs(os.path.expanduser(named)):
        raise BrowseError(
            400,
            f"path {short_repr(uri)} is relative, so it would depend on the api-server's working folder; "
            "name an absolute path (from GET /locations)",
            rule="path-relative",
        )
    shown = paths.local_path(uri) or uri  # absolute, '..' folded, symlinks kept: what the user named
    try:
        candidates, scan_truncated = _scan_local(real, shown)
    except FileNotFoundError:
        if _is_root("local", lambda root: os.path.realpath(root) == real):
            candidates, scan_truncated = [], False
        else:
            raise BrowseError(404, f"folder {shown!r} does not exist", rule="not-found") from None
    except NotADirectoryError:
        raise BrowseError(
            400, f"{shown!r} is a file, not a folder; browse its folder instead", rule="not-a-folder"
        ) from None
    except OSError as error:
        raise BrowseError(
            502, f"cannot list {shown!r}: {error.strerror or error}", rule="storage-error"
        ) from None
    entries, truncated = _entries(candidates, limit)
    parent = posixpath.dirname(shown) if shown != "/" else None
    return LocationListing(
        uri=shown,
        kind="local",
        conn_id=None,
        parent=parent if parent is not None and _allowed(parent) else None,
        entries=entries,
        truncated=truncated or scan_truncated,
        limit=limit,
    )


def _scan_local(real: str, shown: str) -> tuple[list[_Candidate], bool]:
    """The visible children of the folder ``real`` (named ``shown``): no hidden names, no special files,
    no names a config field could not hold (undecodable bytes)."""
    found: list[_Candidate] = []
    with os.scandir(real) as scan:
        for entry in scan:
            if len(found) >= MAX_SCANNED:
                return found, True
            name = entry.name
            if name.startswith(".") or not _printable(name):
                continue
            try:
                kind: EntryKind
                if entry.is_dir():  # follows symlinks: the policy then judges where they lead
                    kind = "directory"
                elif entry.is_file():
                    kind = "file"
                else:  # a FIFO, socket or device (reading one would block or never end), a broken link
                    continue
            except OSError:
                continue
            child = posixpath.join(shown, name)
            found.append(_Candidate(kind, name, child, child, _local_details(entry.path, kind)))
    return found, False


def _local_details(path: str, kind: EntryKind) -> Details:
    def details() -> tuple[int | None, dt.datetime | None]:
        stat = os.stat(path)
        modified = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.timezone.utc)
        return (stat.st_size if kind == "file" else None), modified

    return details


def _printable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (surrogate-escaped): no JSON text holds them
        return False
    return True


def _browse_object(uri: str, conn_id: str | None, limit: int) -> LocationListing:
    from airflow_provider_logidata.engine.files import to_path, with_conn_id

    try:
        combined = with_conn_id(uri, conn_id)
    except ValueError as error:
        raise BrowseError(400, str(error), rule="storage-connection", param="conn_id") from None
    named = paths.split_uri(uri)
    parts = paths.split_uri(combined)
    assert named is not None and parts is not None  # both have a scheme: split_uri(uri) was not None
    if parts.conn_id and not CONN_ID.fullmatch(parts.conn_id):
        raise BrowseError(
            400,
            f"path {short_repr(uri)} names connection {short_repr(parts.conn_id)}, which cannot be part of "
            f"an s3 URI: use {CONN_ID_RULE}",
            rule="connection-id",
        )
    # What is opened is what the policy checked, as it parsed it (lower-case scheme, connection inside).
    checked = parts.text
    _check(checked)  # scheme, a connection, a bucket, no '.'/'..', the allowed prefixes and connections
    key = parts.key.rstrip("/")
    embedded = named.conn_id is not None  # answer in the request's form: a separate conn_id stays separate

    def shown(bucket: str, child_key: str) -> str:
        return paths.StorageUri(parts.scheme, parts.conn_id if embedded else None, bucket, child_key).text

    here = shown(parts.bucket, key)
    try:
        path = to_path(checked)  # the connection rules: it exists, is aws, holds keys of its own
    except PolicyError as error:
        raise BrowseError(400, str(error), rule=error.rule, param="conn_id" if conn_id else "uri") from None
    except Exception as error:
        raise _storage_failure(here, error) from None
    try:
        fs = path.fs
        target = path.path.rstrip("/")
        listed = _list_object(fs, target, parts, key)
    except BrowseError:
        raise
    except FileNotFoundError:
        raise BrowseError(404, f"nothing is stored under {here!r}", rule="not-found") from None
    except Exception as error:
        raise _storage_failure(here, error) from None
    candidates = []
    for info in listed:
        name_path = str(info.get("name", ""))
        if name_path.endswith("/") or name_path.rstrip("/") == target:
            continue  # a folder marker object (``key/``) or the prefix itself
        bucket, _, child_key = name_path.partition("/")
        name = posixpath.basename(child_key)
        if not name or name.startswith(".") or not _printable(name):
            continue
        kind: EntryKind = "directory" if info.get("type") == "directory" else "file"
        checked = paths.StorageUri(parts.scheme, parts.conn_id, bucket, child_key).text
        candidates.append(
            _Candidate(kind, name, shown(bucket, child_key), checked, _object_details(info, kind))
        )
    entries, truncated = _entries(candidates, limit)
    parent = None
    if key:
        parent_key = posixpath.dirname(key)
        if _allowed(paths.StorageUri(parts.scheme, parts.conn_id, parts.bucket, parent_key).text):
            parent = shown(parts.bucket, parent_key)
    return LocationListing(
        uri=here,
        kind="s3",
        conn_id=parts.conn_id,
        parent=parent,
        entries=entries,
        truncated=truncated,
        limit=limit,
    )


def _list_object(fs: Any, target: str, parts: paths.StorageUri, key: str) -> list[dict[str, Any]]:
    """The listing of ``target`` (``bucket/key``) as the engine's filesystem gives it, fresh (s3fs keeps
    listings of a filesystem shared by the process). Raises ``BrowseError`` for an object that is a file
    and ``FileNotFoundError`` for nothing there, unless it is an allowed root (S3 has no empty folders)."""
    try:
        listed: list[dict[str, Any]] = fs.ls(target, detail=True, refresh=True)
    except FileNotFoundError:
        if (
            key
            and _is_root("s3", lambda root: _same_prefix(root, parts.bucket, key))
            and fs.exists(parts.bucket)
        ):
            return []
        raise
    if len(listed) == 1 and listed[0].get("name") == target and listed[0].get("type") != "directory":
        shown = paths.StorageUri(parts.scheme, None, parts.bucket, key).text
        raise BrowseError(
            400, f"{shown!r} is an object, not a prefix; browse its folder instead", rule="not-a-folder"
        )
    return listed


def _same_prefix(root_uri: str, bucket: str, key: str) -> bool:
    root = paths.split_uri(root_uri)
    return root is not None and root.bucket == bucket and root.key.strip("/") == key.strip("/")


def _object_details(info: dict[str, Any], kind: EntryKind) -> Details:
    def details() -> tuple[int | None, dt.datetime | None]:
        if kind == "directory":
            return None, None
        modified = info.get("LastModified")
        size = info.get("size")
        return (
            int(size) if isinstance(size, int) else None,
            modified if isinstance(modified, dt.datetime) else None,
        )

    return details


def _storage_failure(uri: str, error: BaseException) -> BrowseError:
    from airflow_provider_logidata.engine.files import describe_error

    return BrowseError(502, f"cannot list {uri!r}: {describe_error(error)}", rule="storage-error")


def _entries(candidates: Iterable[_Candidate], limit: int) -> tuple[list[LocationEntry], bool]:
    """The first ``limit`` candidates the policy lets a pipeline read, directories first then by name;
    whether more readable ones were left out."""
    ordered = sorted(candidates, key=lambda item: (item.kind != "directory", item.name.casefold(), item.name))
    entries: list[LocationEntry] = []
    for candidate in ordered:
        if not _allowed(candidate.checked):  # a symlink out of the root, a never-allowed location, ...
            continue
        if len(entries) >= limit:
            return entries, True
        try:
            size, modified = candidate.details()
        except OSError:  # removed (or its link broken) since the listing
            continue
        entries.append(
            LocationEntry(
                name=candidate.name, uri=candidate.uri, kind=candidate.kind, size=size, modified=modified
            )
        )
    return entries, False
