"""The pipeline store: one JSON file per pipeline, with full history and a recoverable trash.

Layout under the root (a local folder or an object-storage URI)::

    <root>/<id>.json                      current version (pretty JSON, indent 2, trailing newline)
    <root>/.history/<id>/v000001.json     the newest ``[logidata] max_versions`` saved versions, including
                                          the current one (older ones are pruned on save)
    <root>/.history/<id>/index.json       saved_at / author / etag / status per version (a cache)
    <root>/.trash/<id>/<timestamp>.json   deleted pipelines (the newest ``max_versions`` copies)
    <root>/.dismissed/<id>.json           dismissed suggestion ids (not versioned, see dismissed.py)
    <root>/.locks/<id>.lock               per-pipeline write lock (local folders only)

The history files are the truth; ``index.json`` only adds who saved when and is rebuilt from the files
when it is missing or corrupt. The etag (first 16 hex digits of the SHA-256 of the current file's bytes) is
the concurrency token: every write names the etag it expects and nothing is written when it differs.

Limits, so that pipeline editors cannot fill the disk or break the listing for everybody: a save larger
than ``[logidata] max_pipeline_bytes`` is refused, every decode is bounded (security/jsonsafe.py), and a
stored file over the size limit is reported as unreadable without being read into memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.security import jsonsafe
from airflow_provider_logidata.spec import SpecValidationError, load_json, validate_pipeline
from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store import dismissed as _dismissed
from airflow_provider_logidata.store.backends import Backend, make_backend
from airflow_provider_logidata.store.errors import (
    ConflictError,
    InvalidPipelineId,
    PipelineNotFound,
    PipelineTooLarge,
    StoreError,
    UnreadablePipeline,
    UnstorablePipeline,
    VersionNotFound,
)
from airflow_provider_logidata.store.models import PipelineSummary, RawPipeline, StoredPipeline, VersionInfo

if TYPE_CHECKING:
    import builtins
    import os
    from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

HISTORY_DIR = ".history"
TRASH_DIR = ".trash"
INDEX_FILE = "index.json"
ETAG_LENGTH = 16
MAX_ID_LENGTH = 200
SUFFIX = ".json"
HASH_CHUNK = 1024 * 1024
MAX_VERSION = 10**15

_ID_RE = re.compile(PIPELINE_ID_PATTERN)
_VERSION_RE = re.compile(r"^v(\d{6,})\.json$")


def compute_etag(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:ETAG_LENGTH]


def serialize(data: dict[str, Any]) -> bytes:
    """The stored form: pretty JSON, indent 2, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def check_pipeline_id(value: object) -> str:
    """Return ``value`` if it can be a pipeline id (and so a file name and dag_id), else raise."""
    if not isinstance(value, str):
        raise InvalidPipelineId(
            f"pipeline id must be text, found {type(value).__name__}: {value!r}", pipeline_id=value
        )
    if not value:
        raise InvalidPipelineId("pipeline id must not be empty", pipeline_id=value)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidPipelineId(
            f"pipeline id is {len(value)} characters long; at most {MAX_ID_LENGTH} are allowed",
            pipeline_id=value,
        )
    if not _ID_RE.fullmatch(value):
        raise InvalidPipelineId(
            f"invalid pipeline id {value!r}: use letters, digits, '_', '-' and '.', "
            "not starting with '.' or '-'",
            pipeline_id=value,
        )
    return value


def _status_of(data: Any) -> str:
    if not isinstance(data, dict):
        return "invalid"
    status = data.get("status", "active")
    return status if isinstance(status, str) else "invalid"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _size_text(size: int) -> str:
    return f"{size:,} bytes"


@dataclass
class _State:
    """What is stored for one pipeline right now (read under the lock before writing)."""

    current: bytes | None
    versions: list[int]  # archived version numbers, ascending
    archived: bool  # the current bytes equal the newest archived version
    # A current file over the size limit is not read: ``current`` is None, its size and etag are here.
    oversize: int | None = None
    oversize_etag: str | None = None

    @property
    def exists(self) -> bool:
        return self.current is not None or self.oversize is not None

    @property
    def etag(self) -> str | None:
        return compute_etag(self.current) if self.current is not None else self.oversize_etag

    @property
    def newest(self) -> int:
        return self.versions[-1] if self.versions else 0

    @property
    def current_version(self) -> int:
        """Version number of the current file; a hand-dropped or hand-edited file gets newest + 1."""
        return self.newest if self.archived else self.newest + 1


class PipelineStore:
    """Read and write pipeline documents; see the module docstring for the layout."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        max_versions: int | None = None,
        max_pipeline_bytes: int | None = None,
    ) -> None:
        """``max_versions`` / ``max_pipeline_bytes`` default to the ``[logidata]`` settings (read lazily)."""
        if root is None:
            from airflow_provider_logidata import settings

            root = settings.pipelines_path()
        self._backend: Backend = make_backend(root)
        self.root: str = self._backend.root
        self._max_versions = max_versions
        self._max_pipeline_bytes = max_pipeline_bytes

    @property
    def max_versions(self) -> int:
        """Versions kept per pipeline (``[logidata] max_versions``); older ones are pruned on save."""
        if self._max_versions is None:
            from airflow_provider_logidata import settings

            self._max_versions = settings.max_versions()
        return max(1, self._max_versions)

    @property
    def max_pipeline_bytes(self) -> int:
        """Largest document stored or read (``[logidata] max_pipeline_bytes``)."""
        if self._max_pipeline_bytes is None:
            from airflow_provider_logidata import settings

            self._max_pipeline_bytes = settings.max_pipeline_bytes()
        return self._max_pipeline_bytes

    def _too_large(self, location: str, size: int) -> str:
        return (
            f"{location} is {_size_text(size)}, larger than the {_size_text(self.max_pipeline_bytes)} a "
            "pipeline may have ([logidata] max_pipeline_bytes); it is not read. Keep data in files or "
            "tables rather than in the pipeline, or ask an Airflow admin to raise the setting"
        )

    def __repr__(self) -> str:
        return f"PipelineStore({self.root!r})"

    @property
    def backend(self) -> Backend:
        return self._backend

    # ---------------------------------------------------------------- paths

    @staticmethod
    def _current_rel(pipeline_id: str) -> str:
        return pipeline_id + SUFFIX

    @staticmethod
    def _history_dir(pipeline_id: str) -> str:
        return f"{HISTORY_DIR}/{pipeline_id}"

    @classmethod
    def _version_rel(cls, pipeline_id: str, version: int) -> str:
        return f"{cls._history_dir(pipeline_id)}/v{version:06d}{SUFFIX}"

    def location(self, pipeline_id: str) -> str:
        """Path or URI of the pipeline's current file (for messages)."""
        return self._backend.location(self._current_rel(check_pipeline_id(pipeline_id)))

    # ---------------------------------------------------------------- reading

    def iter_raw(self) -> Iterator[RawPipeline]:
        """Every ``<root>/*.json`` as bytes, sorted by id. No decoding, validation or history access.

        A file over ``max_pipeline_bytes`` comes with ``content=None`` and the reason in ``error``; its
        size is taken from the listing, so it is never read.
        """
        sizes = self._backend.list_sizes()
        names = sorted(name for name in sizes if name.endswith(SUFFIX) and not name.startswith("."))
        limit = self.max_pipeline_bytes if names else 0
        for name in names:
            pipeline_id = name[: -len(SUFFIX)]
            location = self._backend.location(name)
            size = sizes[name]
            if size is not None and size > limit:
                yield RawPipeline(pipeline_id, location, None, self._too_large(location, size))
                continue
            try:
                content = self._backend.read(name)
            except FileNotFoundError:
                continue  # deleted between listing and reading
            except IsADirectoryError:
                continue
            except OSError as exc:
                yield RawPipeline(pipeline_id, location, None, f"cannot read {location}: {exc}")
                continue
            if len(content) > limit:  # grew after the listing, or the listing had no size
                yield RawPipeline(pipeline_id, location, None, self._too_large(location, len(content)))
                continue
            yield RawPipeline(pipeline_id, location, content, None)

    def list(self) -> builtins.list[PipelineSummary]:
        summaries = []
        for raw in self.iter_raw():
            try:
                summaries.append(self._summary(raw))
            except Exception as exc:  # isolation: one odd file (or a validator bug) never hides the others
                log.exception("logidata: summarising pipeline %s (%s) failed", raw.id, raw.location)
                error = RawPipeline(
                    raw.id, raw.location, None, f"cannot summarise: {type(exc).__name__}: {exc}"
                )
                summaries.append(self._summary(error))
        return summaries

    def _summary(self, raw: RawPipeline) -> PipelineSummary:
        updated_at = self._backend.mtime(raw.id + SUFFIX)
        if raw.content is None:
            return PipelineSummary(
                id=raw.id,
                name="",
                status="unknown",
                version=0,
                etag="",
                updated_at=updated_at,
                valid=False,
                error_count=1,
                location=raw.location,
                first_error=raw.error,
            )
        etag = compute_etag(raw.content)
        try:
            version = self._state(raw.id, raw.content).current_version
        except OSError:
            version = 0
        data, issue = load_json(raw.content)
        if issue is not None or not isinstance(data, dict):
            message = issue.message if issue is not None else "a pipeline must be a JSON object"
            return PipelineSummary(
                id=raw.id,
                name="",
                status="unknown",
                version=version,
                etag=etag,
                updated_at=updated_at,
                valid=False,
                error_count=1,
                location=raw.location,
                first_error=message,
            )
        result = validate_pipeline(data, expected_id=raw.id)
        name = data.get("name")
        return PipelineSummary(
            id=raw.id,
            name=name if isinstance(name, str) and name else raw.id,
            status=_status_of(data),
            version=version,
            etag=etag,
            updated_at=updated_at,
            valid=not result.issues,
            error_count=len(result.issues),
            location=raw.location,
            first_error=str(result.issues[0]) if result.issues else None,
        )

    def get(self, pipeline_id: str) -> StoredPipeline:
        check_pipeline_id(pipeline_id)
        state = self._state(pipeline_id)
        if not state.exists:
            raise PipelineNotFound(
                f"pipeline {pipeline_id!r} not found in {self.root}", pipeline_id=pipeline_id
            )
        if state.current is None:
            raise self._oversize_error(pipeline_id, state)
        return self._stored(pipeline_id, state.current, state.current_version)

    def current_etag(self, pipeline_id: str) -> str | None:
        """Etag of the current file (None when the pipeline does not exist), even if it is not valid JSON
        or too large to read (then hashed in chunks)."""
        check_pipeline_id(pipeline_id)
        return self._read_current(pipeline_id).etag

    def _oversize_error(self, pipeline_id: str, state: _State) -> UnreadablePipeline:
        location = self.location(pipeline_id)
        return UnreadablePipeline(
            f"pipeline {pipeline_id!r}: {self._too_large(location, state.oversize or 0)}",
            pipeline_id=pipeline_id,
            location=location,
        )

    def _read_current(self, pipeline_id: str) -> _State:
        """The current file's bytes, or its size and etag when it is over the limit (versions not read)."""
        rel = self._current_rel(pipeline_id)
        limit = self.max_pipeline_bytes
        try:
            size = self._backend.size(rel)
        except OSError as exc:
            raise StoreError(f"cannot read {self._backend.location(rel)}: {exc}") from exc
        if size is not None and size > limit:
            return _State(None, [], False, oversize=size, oversize_etag=self._hash_file(rel))
        content = self._read(rel)
        if content is not None and len(content) > limit:
            return _State(None, [], False, oversize=len(content), oversize_etag=compute_etag(content))
        return _State(content, [], False)

    def _hash_file(self, rel: str) -> str:
        digest = hashlib.sha256()
        try:
            with self._backend.open_read(rel) as handle:
                while chunk := handle.read(HASH_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise StoreError(f"cannot read {self._backend.location(rel)}: {exc}") from exc
        return digest.hexdigest()[:ETAG_LENGTH]

    def _stored(
        self, pipeline_id: str, content: bytes, version: int, updated_at: dt.datetime | None = None
    ) -> StoredPipeline:
        data = self._decode_object(pipeline_id, content, self._current_rel(pipeline_id))
        if updated_at is None:
            updated_at = self._backend.mtime(self._current_rel(pipeline_id)) or _now()
        return StoredPipeline(
            id=pipeline_id, version=version, etag=compute_etag(content), data=data, updated_at=updated_at
        )

    def _decode_object(self, pipeline_id: str, content: bytes, rel: str) -> dict[str, Any]:
        location = self._backend.location(rel)
        data, issue = load_json(content)
        if issue is not None:
            raise UnreadablePipeline(
                f"pipeline {pipeline_id!r} at {location}: {issue.message}",
                pipeline_id=pipeline_id,
                location=location,
            )
        if not isinstance(data, dict):
            raise UnreadablePipeline(
                f"pipeline {pipeline_id!r} at {location} is not a JSON object (found {type(data).__name__})",
                pipeline_id=pipeline_id,
                location=location,
            )
        return data

    def _read(self, rel: str) -> bytes | None:
        try:
            return self._backend.read_optional(rel)
        except OSError as exc:
            raise StoreError(f"cannot read {self._backend.location(rel)}: {exc}") from exc

    def _versions(self, pipeline_id: str) -> builtins.list[int]:
        versions = []
        for name in self._backend.list_files(self._history_dir(pipeline_id)):
            match = _VERSION_RE.match(name)
            if match:
                versions.append(int(match.group(1)))
        return sorted(versions)

    def _state(self, pipeline_id: str, current: bytes | None = None) -> _State:
        state = _State(current, [], False) if current is not None else self._read_current(pipeline_id)
        state.versions = self._versions(pipeline_id)
        if state.current is not None and state.versions:
            try:
                newest = self._backend.read_optional(self._version_rel(pipeline_id, state.versions[-1]))
            except OSError:
                newest = None
            state.archived = newest == state.current
        return state

    # ---------------------------------------------------------------- history

    def _read_index(self, pipeline_id: str) -> dict[str, dict[str, Any]]:
        """Version metadata by version number (as text); empty when missing or unreadable."""
        try:
            content = self._backend.read_optional(f"{self._history_dir(pipeline_id)}/{INDEX_FILE}")
        except OSError:
            return {}
        if content is None:
            return {}
        try:
            data = jsonsafe.loads(content)
        except ValueError:  # JSON errors and limits alike: the index is rebuilt from the version files
            return {}
        versions = data.get("versions") if isinstance(data, dict) else None
        if not isinstance(versions, dict):
            return {}
        return {key: value for key, value in versions.items() if isinstance(value, dict)}

    def _write_index(self, pipeline_id: str, index: dict[str, dict[str, Any]]) -> None:
        ordered = dict(sorted(index.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0))
        content = json.dumps({"pipeline_id": pipeline_id, "versions": ordered}, indent=2) + "\n"
        # The index is a cache of metadata: history still works from the version files without it.
        with suppress(OSError):
            self._backend.write(f"{self._history_dir(pipeline_id)}/{INDEX_FILE}", content.encode("utf-8"))

    def history(self, pipeline_id: str) -> builtins.list[VersionInfo]:
        """Every version, newest first; a current file not yet archived is listed as the next version."""
        check_pipeline_id(pipeline_id)
        state = self._state(pipeline_id)
        if not state.exists and not state.versions:
            raise PipelineNotFound(
                f"pipeline {pipeline_id!r} not found in {self.root} (no current file and no history)",
                pipeline_id=pipeline_id,
            )
        index = self._read_index(pipeline_id)
        infos = []
        for version in state.versions:
            meta = index.get(str(version))
            rel = self._version_rel(pipeline_id, version)
            if meta and isinstance(meta.get("etag"), str) and isinstance(meta.get("status"), str):
                author = meta.get("author")
                saved_at = _parse_time(meta.get("saved_at")) or self._backend.mtime(rel)
                infos.append(
                    VersionInfo(
                        version,
                        meta["etag"],
                        saved_at,
                        author if isinstance(author, str) else None,
                        meta["status"],
                    )
                )
                continue
            try:
                content = self._backend.read(rel)
            except OSError:
                continue  # removed or unreadable: skip rather than fail the whole history
            status = _status_of(load_json(content)[0])
            infos.append(VersionInfo(version, compute_etag(content), self._backend.mtime(rel), None, status))
        if state.exists and not state.archived:
            infos.append(
                VersionInfo(
                    state.current_version,
                    state.etag or "",
                    self._backend.mtime(self._current_rel(pipeline_id)),
                    None,
                    _status_of(load_json(state.current)[0]) if state.current is not None else "invalid",
                )
            )
        return sorted(infos, key=lambda info: info.version, reverse=True)

    def get_version(self, pipeline_id: str, version: int) -> dict[str, Any]:
        check_pipeline_id(pipeline_id)
        # A version number no store reaches is simply not found (its file name could be too long to ask).
        rel = self._version_rel(pipeline_id, version) if 1 <= version <= MAX_VERSION else ""
        content = self._read(rel) if rel else None
        if content is None:
            state = self._state(pipeline_id)
            if state.exists and not state.archived and version == state.current_version:
                if state.current is None:
                    raise self._oversize_error(pipeline_id, state)
                return self._decode_object(pipeline_id, state.current, self._current_rel(pipeline_id))
            if not state.exists and not state.versions:
                raise PipelineNotFound(
                    f"pipeline {pipeline_id!r} not found in {self.root}", pipeline_id=pipeline_id
                )
            known = [*state.versions]
            if state.exists and not state.archived:
                known.append(state.current_version)
            raise VersionNotFound(
                f"pipeline {pipeline_id!r} has no version {version} in "
                f"{self._backend.location(self._history_dir(pipeline_id))}; "
                f"versions: {', '.join(map(str, known)) or 'none'}",
                pipeline_id=pipeline_id,
                version=version,
            )
        return self._decode_object(pipeline_id, content, rel)

    # ---------------------------------------------------------------- dismissed suggestions

    def dismissed(self, pipeline_id: str) -> builtins.list[str]:
        """Dismissed suggestion ids of an existing pipeline, oldest first (PipelineNotFound otherwise).

        A missing, damaged or unreadable sidecar reads as no dismissals: it never blocks the pipeline.
        """
        check_pipeline_id(pipeline_id)
        self._require_current(pipeline_id, "read the dismissed suggestions of")
        return self._read_dismissed(pipeline_id, strict=False)

    def dismiss(self, pipeline_id: str, suggestion_id: str) -> builtins.list[str]:
        """Add ``suggestion_id`` (as the newest) and return the ids; the pipeline's etag is untouched."""
        return self._change_dismissed(
            pipeline_id, suggestion_id, _dismissed.with_id, "dismiss a suggestion of"
        )

    def undismiss(self, pipeline_id: str, suggestion_id: str) -> builtins.list[str]:
        """Remove ``suggestion_id`` (no error when it was not dismissed) and return the ids."""
        return self._change_dismissed(
            pipeline_id, suggestion_id, _dismissed.without_id, "restore a suggestion of"
        )

    def _change_dismissed(
        self,
        pipeline_id: str,
        suggestion_id: str,
        change: Callable[[builtins.list[str], str], builtins.list[str]],
        action: str,
    ) -> builtins.list[str]:
        check_pipeline_id(pipeline_id)
        _dismissed.check_suggestion_id(suggestion_id)
        rel = _dismissed.dismissed_rel(pipeline_id)
        # The pipeline's lock: a delete running at the same time cannot leave a sidecar behind.
        with self._backend.lock(pipeline_id):
            self._require_current(pipeline_id, action)
            ids = self._read_dismissed(pipeline_id, strict=True)
            updated = change(ids, suggestion_id)
            if updated != ids:
                try:
                    self._backend.write(rel, _dismissed.encode(pipeline_id, updated))
                except OSError as exc:
                    raise StoreError(
                        f"cannot {action} pipeline {pipeline_id!r}: writing {self._backend.location(rel)} "
                        f"failed: {exc}"
                    ) from exc
        return updated

    def _require_current(self, pipeline_id: str, action: str) -> None:
        if self._read(self._current_rel(pipeline_id)) is None:
            raise PipelineNotFound(
                f"cannot {action} pipeline {pipeline_id!r}: not found in {self.root} (save it first)",
                pipeline_id=pipeline_id,
            )

    def _read_dismissed(self, pipeline_id: str, *, strict: bool) -> builtins.list[str]:
        """The sidecar's ids. ``strict``: an I/O error raises (a rewrite would drop the unread ids)."""
        rel = _dismissed.dismissed_rel(pipeline_id)
        location = self._backend.location(rel)
        try:
            content = self._backend.read_optional(rel)
        except OSError as exc:
            if strict:
                raise StoreError(f"cannot read the dismissed suggestions at {location}: {exc}") from exc
            log.warning("logidata: cannot read the dismissed suggestions at %s: %s", location, exc)
            return []
        if content is None:
            return []
        try:  # the sidecar is decoded with plain json: only hand it documents within the JSON limits
            jsonsafe.loads(content)
        except ValueError as exc:
            log.warning("logidata: ignoring the dismissed suggestions in %s: %s", location, exc)
            return []
        return _dismissed.decode(content, location=location)

    def _drop_dismissed(self, pipeline_id: str) -> None:
        """Remove the sidecar (callers hold the lock); a failure only leaves stale ids, so it is logged."""
        rel = _dismissed.dismissed_rel(pipeline_id)
        try:
            self._backend.remove(rel)
        except OSError as exc:
            log.warning(
                "logidata: cannot remove the dismissed suggestions at %s: %s",
                self._backend.location(rel),
                exc,
            )

    # ---------------------------------------------------------------- writing

    def save(
        self, data: dict[str, Any], *, expected_etag: str | None, author: str | None = None
    ) -> StoredPipeline:
        """Create (``expected_etag=None``) or update (the etag read before) a pipeline.

        Active pipelines must be valid (raises SpecValidationError); drafts only need a valid id. Any
        document must be storable: PipelineTooLarge over ``max_pipeline_bytes``, UnstorablePipeline for
        what the store could not read back (NaN, huge integers, too deep nesting).
        """
        if not isinstance(data, dict):
            raise InvalidPipelineId(
                f"a pipeline must be a JSON object, found {type(data).__name__}", pipeline_id=None
            )
        pipeline_id = check_pipeline_id(data.get("id"))
        content, stored_data = self._serialize(pipeline_id, data)
        self._validate_for_save(pipeline_id, stored_data)
        with self._backend.lock(pipeline_id):
            return self._write_locked(pipeline_id, data, content, stored_data, expected_etag, author)

    def restore(
        self, pipeline_id: str, version: int, *, expected_etag: str | None, author: str | None = None
    ) -> StoredPipeline:
        """Save the content of an old version as a new version.

        ``expected_etag=None`` recreates a deleted pipeline from its history (fails if it exists).
        """
        check_pipeline_id(pipeline_id)
        data = self.get_version(pipeline_id, version)
        data["id"] = pipeline_id  # a hand-dropped file may have carried another id; it belongs here
        content, stored_data = self._serialize(pipeline_id, data)
        self._validate_for_save(pipeline_id, stored_data)
        with self._backend.lock(pipeline_id):
            return self._write_locked(pipeline_id, data, content, stored_data, expected_etag, author)

    def delete(self, pipeline_id: str, *, expected_etag: str | None) -> None:
        """Move the current file to ``.trash`` (history is kept, so it can be restored).

        ``expected_etag=None`` deletes whatever is stored now.
        """
        check_pipeline_id(pipeline_id)
        with self._backend.lock(pipeline_id):
            state = self._state(pipeline_id)
            if not state.exists:
                raise PipelineNotFound(
                    f"cannot delete pipeline {pipeline_id!r}: not found in {self.root}",
                    pipeline_id=pipeline_id,
                )
            if expected_etag is not None:
                self._check_etag(pipeline_id, state, expected_etag, attempted=None, action="delete")
            if state.current is None:  # over the size limit: moved to the trash without reading it
                self._move_to_trash(pipeline_id, "delete")
                self._drop_dismissed(pipeline_id)
                return
            try:
                if not state.archived:
                    index = self._read_index(pipeline_id)
                    self._archive(
                        pipeline_id,
                        state.current_version,
                        state.current,
                        None,
                        index,
                        saved_at=self._backend.mtime(self._current_rel(pipeline_id)),
                    )
                    self._prune(pipeline_id, [*state.versions, state.current_version], index)
                    self._write_index(pipeline_id, index)
                self._backend.write(self._trash_rel(pipeline_id), state.current)
                self._backend.remove(self._current_rel(pipeline_id))
            except OSError as exc:
                raise StoreError(
                    f"cannot delete pipeline {pipeline_id!r} at {self.location(pipeline_id)}: {exc}"
                ) from exc
            self._prune_trash(pipeline_id)
            self._drop_dismissed(pipeline_id)

    def _move_to_trash(self, pipeline_id: str, action: str) -> None:
        """Move the current file to the trash as it is (callers hold the lock; used for oversize files)."""
        try:
            self._backend.move(self._current_rel(pipeline_id), self._trash_rel(pipeline_id))
        except OSError as exc:
            raise StoreError(
                f"cannot {action} pipeline {pipeline_id!r}: moving {self.location(pipeline_id)} to the "
                f"trash failed: {exc}"
            ) from exc
        self._prune_trash(pipeline_id)

    def _prune(
        self, pipeline_id: str, versions: builtins.list[int], index: dict[str, dict[str, Any]]
    ) -> None:
        """Remove the oldest version files beyond ``max_versions`` and their index entries.

        Callers hold the pipeline's lock and pass every archived version, ascending, the newest being the
        current one, which is never pruned. A file that cannot be removed is logged and kept (history
        still lists it from the file), so a failing removal never fails the save that triggered it.
        """
        keep = self.max_versions
        if len(versions) > keep:
            for version in versions[:-keep]:
                rel = self._version_rel(pipeline_id, version)
                try:
                    self._backend.remove(rel)
                except OSError as exc:
                    log.warning("logidata: cannot prune %s: %s", self._backend.location(rel), exc)
                    continue
                index.pop(str(version), None)
        oldest = versions[-keep:][0] if versions else 0
        for key in [k for k in index if not k.isdigit() or int(k) < oldest]:
            rel = self._version_rel(pipeline_id, int(key)) if key.isdigit() else ""
            if not rel or self._backend.size(rel) is None:
                del index[key]  # describes a version file that no longer exists

    def _prune_trash(self, pipeline_id: str) -> None:
        """Keep the newest ``max_versions`` deleted copies of a pipeline (callers hold the lock)."""
        folder = f"{TRASH_DIR}/{pipeline_id}"
        try:
            names = sorted(n for n in self._backend.list_files(folder) if n.endswith(SUFFIX))
        except OSError as exc:
            log.warning("logidata: cannot list %s: %s", self._backend.location(folder), exc)
            return
        for name in names[: max(0, len(names) - self.max_versions)]:
            try:
                self._backend.remove(f"{folder}/{name}")
            except OSError as exc:
                log.warning("logidata: cannot prune %s: %s", self._backend.location(f"{folder}/{name}"), exc)

    def trash(self, pipeline_id: str) -> builtins.list[str]:
        """Locations of the deleted copies of a pipeline, oldest first."""
        check_pipeline_id(pipeline_id)
        folder = f"{TRASH_DIR}/{pipeline_id}"
        names = sorted(n for n in self._backend.list_files(folder) if n.endswith(SUFFIX))
        return [self._backend.location(f"{folder}/{name}") for name in names]

    def _trash_rel(self, pipeline_id: str) -> str:
        folder = f"{TRASH_DIR}/{pipeline_id}"
        existing = set(self._backend.list_files(folder))
        stamp = _now().strftime("%Y%m%dT%H%M%S%fZ")
        name, counter = f"{stamp}{SUFFIX}", 1
        while name in existing:
            name, counter = f"{stamp}-{counter}{SUFFIX}", counter + 1
        return f"{folder}/{name}"

    @staticmethod
    def _validate_for_save(pipeline_id: str, data: dict[str, Any]) -> None:
        if data.get("status", "active") == "draft":
            return
        result = validate_pipeline(data)
        if result.issues:
            raise SpecValidationError(pipeline_id, result.issues)

    def _serialize(self, pipeline_id: str, data: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """The bytes to store and the document read back from them, exactly as a later read sees it."""
        try:
            content = serialize(data)
        except (TypeError, ValueError, RecursionError) as exc:
            reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise UnstorablePipeline(
                f"pipeline {pipeline_id!r} cannot be stored as JSON: {reason}", pipeline_id=pipeline_id
            ) from None
        limit = self.max_pipeline_bytes
        if len(content) > limit:
            raise PipelineTooLarge(
                f"pipeline {pipeline_id!r} is {_size_text(len(content))} as stored JSON, larger than the "
                f"{_size_text(limit)} a pipeline may have ([logidata] max_pipeline_bytes); nothing was "
                "saved. Keep data in files or tables rather than in the pipeline, or ask an Airflow admin "
                "to raise the setting",
                pipeline_id=pipeline_id,
                size=len(content),
                limit=limit,
            )
        try:
            stored = jsonsafe.loads(content)
        except ValueError as exc:
            raise UnstorablePipeline(
                f"pipeline {pipeline_id!r} cannot be stored: {exc}; nothing was saved",
                pipeline_id=pipeline_id,
            ) from None
        return content, stored

    def _check_etag(
        self,
        pipeline_id: str,
        state: _State,
        expected_etag: str | None,
        *,
        attempted: dict[str, Any] | None,
        action: str,
    ) -> None:
        if not state.exists:
            if expected_etag is None:
                return
            raise ConflictError(
                f"cannot {action} pipeline {pipeline_id!r}: it was deleted from {self.root} after you "
                f"loaded it (expected etag {expected_etag})",
                pipeline_id=pipeline_id,
                current=None,
                attempted=attempted,
                expected_etag=expected_etag,
            )
        current_etag = state.etag
        if expected_etag == current_etag:
            return
        current: StoredPipeline | None = None
        if state.current is not None:
            with suppress(UnreadablePipeline):  # not a JSON object: nothing to show, the etag still differs
                current = self._stored(pipeline_id, state.current, state.current_version)
        if expected_etag is None:
            message = (
                f"cannot create pipeline {pipeline_id!r}: it already exists at {self.location(pipeline_id)} "
                f"(version {state.current_version}, etag {current_etag})"
            )
        else:
            message = (
                f"cannot {action} pipeline {pipeline_id!r}: it changed since you loaded it "
                f"(expected etag {expected_etag}, current etag {current_etag}, "
                f"version {state.current_version} at {self.location(pipeline_id)})"
            )
        raise ConflictError(
            message,
            pipeline_id=pipeline_id,
            current=current,
            attempted=attempted,
            expected_etag=expected_etag,
        )

    def _archive(
        self,
        pipeline_id: str,
        version: int,
        content: bytes,
        author: str | None,
        index: dict[str, dict[str, Any]],
        *,
        saved_at: dt.datetime | None = None,
    ) -> None:
        self._backend.write(self._version_rel(pipeline_id, version), content)
        index[str(version)] = {
            "etag": compute_etag(content),
            "saved_at": (saved_at or _now()).isoformat(),
            "author": author,
            "status": _status_of(load_json(content)[0]),
        }

    def _write_locked(
        self,
        pipeline_id: str,
        data: dict[str, Any],
        content: bytes,
        stored_data: dict[str, Any],
        expected_etag: str | None,
        author: str | None,
    ) -> StoredPipeline:
        state = self._state(pipeline_id)
        self._check_etag(pipeline_id, state, expected_etag, attempted=data, action="save")
        if not state.exists:
            self._drop_dismissed(pipeline_id)  # left by a file removed by hand: a new pipeline starts clean
        if state.current == content and state.archived:
            return self._stored(pipeline_id, content, state.newest)  # nothing changed: no new version

        index = self._read_index(pipeline_id)
        version = state.newest + 1
        archived = [*state.versions]
        if state.current is None and state.oversize is not None:
            # Too large to be a version: the file replaced by this save is kept in the trash instead.
            self._move_to_trash(pipeline_id, "save")
        try:
            if state.current is not None and state.current != content and not state.archived:
                # Edited by hand since the last save: keep those bytes as a version of their own.
                self._archive(
                    pipeline_id,
                    version,
                    state.current,
                    None,
                    index,
                    saved_at=self._backend.mtime(self._current_rel(pipeline_id)),
                )
                archived.append(version)
                version += 1
            # Current file first, then its history copy: if we die in between, the next read sees a
            # current file newer than the history, which is exactly a hand edit and is archived next time.
            if state.current != content:
                self._backend.write(self._current_rel(pipeline_id), content)
            saved_at = _now()
            self._archive(pipeline_id, version, content, author, index, saved_at=saved_at)
            archived.append(version)
        except OSError as exc:
            raise StoreError(
                f"cannot save pipeline {pipeline_id!r} to {self.location(pipeline_id)}: {exc}"
            ) from exc
        self._prune(pipeline_id, archived, index)
        self._write_index(pipeline_id, index)
        return StoredPipeline(
            id=pipeline_id,
            version=version,
            etag=compute_etag(content),
            data=stored_data,
            updated_at=saved_at,
        )
