"""The dismissed suggestions of a pipeline, read and changed under the pipeline's lock.

The sidecar's format and limits are in ``store.dismissed``; this is the store's side (existence checks,
locking, error messages). Dismissing never creates a version or changes the etag.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow_provider_logidata.security import jsonsafe
from airflow_provider_logidata.store import dismissed as _dismissed
from airflow_provider_logidata.store.errors import PipelineNotFound, StoreError
from airflow_provider_logidata.store.layout import check_pipeline_id
from airflow_provider_logidata.store.reading import PipelineReader

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable

log = logging.getLogger(__name__)


class PipelineDismissals(PipelineReader):
    """Dismissed suggestion ids of a pipeline (a sidecar file, not part of the pipeline)."""

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
