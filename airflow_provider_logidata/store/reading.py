"""Reading the pipeline store: the listing, current documents, and the state a write starts from.

The base of :class:`~airflow_provider_logidata.store.store.PipelineStore`: its settings, paths and reads;
history, trash, dismissed suggestions and writes are added by the classes built on this one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.spec import load_json, validate_pipeline
from airflow_provider_logidata.store.backends import Backend, make_backend
from airflow_provider_logidata.store.errors import PipelineNotFound, StoreError, UnreadablePipeline
from airflow_provider_logidata.store.layout import (
    ETAG_LENGTH,
    HASH_CHUNK,
    HISTORY_DIR,
    SUFFIX,
    VERSION_RE,
    State,
    check_pipeline_id,
    compute_etag,
    now,
    size_text,
    status_of,
)
from airflow_provider_logidata.store.models import PipelineSummary, RawPipeline, StoredPipeline

if TYPE_CHECKING:
    import builtins
    import datetime as dt
    import os
    from collections.abc import Iterator

    from airflow_provider_logidata.store.read_cache import ReadCache

log = logging.getLogger(__name__)


class PipelineReader:
    """Settings, paths and reads of the store (see ``store.store`` for the layout)."""

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
            f"{location} is {size_text(size)}, larger than the {size_text(self.max_pipeline_bytes)} a "
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

    def iter_raw(self, cache: ReadCache | None = None) -> Iterator[RawPipeline]:
        """Every ``<root>/*.json`` as bytes, sorted by id. No decoding, validation or history access.

        A file over ``max_pipeline_bytes`` comes with ``content=None`` and the reason in ``error``; its
        size is taken from the listing, so it is never read. With a ``cache`` (object storage), a file
        whose listed tag it holds is not read at all (``store.read_cache``).
        """
        tags = self._backend.list_tags()
        names = sorted(name for name in tags if name.endswith(SUFFIX) and not name.startswith("."))
        limit = self.max_pipeline_bytes if names else 0
        if cache is not None:
            cache.prune(set(names))
        for name in names:
            pipeline_id = name[: -len(SUFFIX)]
            location = self._backend.location(name)
            size, tag = tags[name]
            if size is not None and size > limit:
                yield RawPipeline(pipeline_id, location, None, self._too_large(location, size))
                continue
            kept = cache.get(name, tag, size) if cache is not None and tag else None
            if kept is not None:
                yield RawPipeline(pipeline_id, location, kept, None)
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
            if cache is not None and tag:
                cache.put(name, tag, content)
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
            status=status_of(data),
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

    def _oversize_error(self, pipeline_id: str, state: State) -> UnreadablePipeline:
        location = self.location(pipeline_id)
        return UnreadablePipeline(
            f"pipeline {pipeline_id!r}: {self._too_large(location, state.oversize or 0)}",
            pipeline_id=pipeline_id,
            location=location,
        )

    def _read_current(self, pipeline_id: str) -> State:
        """The current file's bytes, or its size and etag when it is over the limit (versions not read)."""
        rel = self._current_rel(pipeline_id)
        limit = self.max_pipeline_bytes
        try:
            size = self._backend.size(rel)
        except OSError as exc:
            raise StoreError(f"cannot read {self._backend.location(rel)}: {exc}") from exc
        if size is not None and size > limit:
            return State(None, [], False, oversize=size, oversize_etag=self._hash_file(rel))
        content = self._read(rel)
        if content is not None and len(content) > limit:
            return State(None, [], False, oversize=len(content), oversize_etag=compute_etag(content))
        return State(content, [], False)

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
            updated_at = self._backend.mtime(self._current_rel(pipeline_id)) or now()
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
            match = VERSION_RE.match(name)
            if match:
                versions.append(int(match.group(1)))
        return sorted(versions)

    def _state(self, pipeline_id: str, current: bytes | None = None) -> State:
        state = State(current, [], False) if current is not None else self._read_current(pipeline_id)
        state.versions = self._versions(pipeline_id)
        if state.current is not None and state.versions:
            try:
                newest = self._backend.read_optional(self._version_rel(pipeline_id, state.versions[-1]))
            except OSError:
                newest = None
            state.archived = newest == state.current
        return state
