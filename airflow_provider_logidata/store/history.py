"""The history of a pipeline: its saved versions, their metadata index, and pruning to ``max_versions``.

The version files are the truth; ``index.json`` only adds who saved when (see ``store.store``).
"""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.security import jsonsafe
from airflow_provider_logidata.spec import load_json
from airflow_provider_logidata.store.errors import PipelineNotFound, VersionNotFound
from airflow_provider_logidata.store.layout import (
    INDEX_FILE,
    MAX_VERSION,
    check_pipeline_id,
    compute_etag,
    now,
    parse_time,
    status_of,
)
from airflow_provider_logidata.store.models import VersionInfo
from airflow_provider_logidata.store.reading import PipelineReader

if TYPE_CHECKING:
    import builtins
    import datetime as dt

    from airflow_provider_logidata.spec.diff import PipelineDiff

log = logging.getLogger(__name__)


class PipelineHistory(PipelineReader):
    """Versions of a pipeline: listed, read back, archived on save and pruned."""

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
                message = meta.get("message")
                saved_at = parse_time(meta.get("saved_at")) or self._backend.mtime(rel)
                infos.append(
                    VersionInfo(
                        version,
                        meta["etag"],
                        saved_at,
                        author if isinstance(author, str) else None,
                        meta["status"],
                        message if isinstance(message, str) else None,
                    )
                )
                continue
            try:
                content = self._backend.read(rel)
            except OSError:
                continue  # removed or unreadable: skip rather than fail the whole history
            status = status_of(load_json(content)[0])
            infos.append(VersionInfo(version, compute_etag(content), self._backend.mtime(rel), None, status))
        if state.exists and not state.archived:
            infos.append(
                VersionInfo(
                    state.current_version,
                    state.etag or "",
                    self._backend.mtime(self._current_rel(pipeline_id)),
                    None,
                    status_of(load_json(state.current)[0]) if state.current is not None else "invalid",
                )
            )
        return sorted(infos, key=lambda info: info.version, reverse=True)

    def diff(self, pipeline_id: str, old: int, new: int | None = None) -> tuple[int, PipelineDiff]:
        """What changed from version ``old`` to ``new`` (None: the newest), and which version ``new`` is:
        the one comparison behind ``logidata diff`` and the builder's history."""
        from airflow_provider_logidata.spec.diff import diff_documents

        if new is None:
            versions = self.history(pipeline_id)
            new = versions[0].version if versions else old
        return new, diff_documents(self.get_version(pipeline_id, old), self.get_version(pipeline_id, new))

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

    def _archive(
        self,
        pipeline_id: str,
        version: int,
        content: bytes,
        author: str | None,
        index: dict[str, dict[str, Any]],
        *,
        saved_at: dt.datetime | None = None,
        message: str | None = None,
    ) -> None:
        self._backend.write(self._version_rel(pipeline_id, version), content)
        index[str(version)] = {
            "etag": compute_etag(content),
            "saved_at": (saved_at or now()).isoformat(),
            "author": author,
            "status": status_of(load_json(content)[0]),
            "message": message,
        }

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
