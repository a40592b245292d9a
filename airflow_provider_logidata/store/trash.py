"""The trash of a pipeline: its newest ``max_versions`` deleted copies, so that a delete can be undone."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow_provider_logidata.store.errors import StoreError
from airflow_provider_logidata.store.layout import SUFFIX, TRASH_DIR, check_pipeline_id, now
from airflow_provider_logidata.store.reading import PipelineReader

if TYPE_CHECKING:
    import builtins

log = logging.getLogger(__name__)


class PipelineTrash(PipelineReader):
    """Deleted copies of a pipeline: moved there, listed and pruned."""

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
        stamp = now().strftime("%Y%m%dT%H%M%S%fZ")
        name, counter = f"{stamp}{SUFFIX}", 1
        while name in existing:
            name, counter = f"{stamp}-{counter}{SUFFIX}", counter + 1
        return f"{folder}/{name}"
