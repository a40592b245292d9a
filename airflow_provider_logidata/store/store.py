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

The store by job: ids, file names and etags in ``store.layout``; reads in ``store.reading``; versions in
``store.history``; deleted copies in ``store.trash``; dismissed suggestions in ``store.dismissals``;
writes (save, restore, delete: the etag check and the lock) here, on :class:`PipelineStore`, which
combines them all.
"""

from __future__ import annotations

import datetime as dt
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.security import jsonsafe
from airflow_provider_logidata.spec import SpecValidationError, validate_pipeline
from airflow_provider_logidata.store.dismissals import PipelineDismissals
from airflow_provider_logidata.store.errors import (
    ConflictError,
    InvalidPipelineId,
    PipelineNotFound,
    PipelineTooLarge,
    StoreError,
    UnreadablePipeline,
    UnstorablePipeline,
)
from airflow_provider_logidata.store.history import PipelineHistory
from airflow_provider_logidata.store.layout import (
    HISTORY_DIR,
    SUFFIX,
    State,
    check_pipeline_id,
    clean_message,
    compute_etag,
    is_pipeline_id,
    now,
    serialize,
    size_text,
    trash_time,
)
from airflow_provider_logidata.store.models import DeletedPipeline, StoredPipeline
from airflow_provider_logidata.store.trash import PipelineTrash

if TYPE_CHECKING:
    import builtins


class PipelineStore(PipelineHistory, PipelineTrash, PipelineDismissals):
    """Read and write pipeline documents; see the module docstring for the layout."""

    # ---------------------------------------------------------------- writing

    def save(
        self,
        data: dict[str, Any],
        *,
        expected_etag: str | None,
        author: str | None = None,
        message: str | None = None,
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
            return self._write_locked(
                pipeline_id, data, content, stored_data, expected_etag, author, clean_message(message)
            )

    def restore(
        self,
        pipeline_id: str,
        version: int,
        *,
        expected_etag: str | None,
        author: str | None = None,
        message: str | None = None,
    ) -> StoredPipeline:
        """Save the content of an old version as a new version.

        ``expected_etag=None`` recreates a deleted pipeline from its history (fails if it exists).
        """
        check_pipeline_id(pipeline_id)
        data = self.get_version(pipeline_id, version)
        data["id"] = pipeline_id  # a hand-dropped file may have carried another id; it belongs here
        content, stored_data = self._serialize(pipeline_id, data)
        self._validate_for_save(pipeline_id, stored_data)
        note = clean_message(message)
        note = f"restored version {version}" + (f": {note}" if note else "")
        with self._backend.lock(pipeline_id):
            return self._write_locked(pipeline_id, data, content, stored_data, expected_etag, author, note)

    def deleted(self) -> builtins.list[DeletedPipeline]:
        """Pipelines with a history but no current file (deleted, or removed by hand), newest first."""
        current = {name[: -len(SUFFIX)] for name in self._backend.list_files("") if name.endswith(SUFFIX)}
        out = []
        for pipeline_id in self._backend.list_dirs(HISTORY_DIR):
            if pipeline_id in current or not is_pipeline_id(pipeline_id):
                continue
            try:
                versions = self.history(pipeline_id)
                newest = versions[0] if versions else None
                data = self.get_version(pipeline_id, newest.version) if newest else None
            except (StoreError, OSError):
                continue  # gone or unreadable since the listing: nothing to restore from
            if newest is None or data is None or self._state(pipeline_id).exists:
                continue
            name = data.get("name")
            trashed = self.trash(pipeline_id)
            out.append(
                DeletedPipeline(
                    id=pipeline_id,
                    name=name if isinstance(name, str) and name else None,
                    last_version=newest.version,
                    deleted_at=trash_time(trashed[-1]) if trashed else newest.saved_at,
                    author=newest.author,
                )
            )
        never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return sorted(out, key=lambda item: item.deleted_at or never, reverse=True)

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
                f"pipeline {pipeline_id!r} is {size_text(len(content))} as stored JSON, larger than the "
                f"{size_text(limit)} a pipeline may have ([logidata] max_pipeline_bytes); nothing was "
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
        state: State,
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

    def _write_locked(
        self,
        pipeline_id: str,
        data: dict[str, Any],
        content: bytes,
        stored_data: dict[str, Any],
        expected_etag: str | None,
        author: str | None,
        message: str | None = None,
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
            saved_at = now()
            self._archive(pipeline_id, version, content, author, index, saved_at=saved_at, message=message)
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
