"""Errors of the pipeline store. Every message says which pipeline and where it is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_logidata.store.models import StoredPipeline


class StoreError(Exception):
    """Base class of every error raised by the pipeline store."""


class PipelineNotFound(StoreError):
    """The pipeline (or the requested version of it) does not exist."""

    def __init__(self, message: str, *, pipeline_id: str | None = None) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id


class VersionNotFound(PipelineNotFound):
    """The pipeline exists (or existed) but has no such version."""

    def __init__(self, message: str, *, pipeline_id: str | None = None, version: int | None = None) -> None:
        super().__init__(message, pipeline_id=pipeline_id)
        self.version = version


class InvalidPipelineId(StoreError, ValueError):
    """An id that cannot be used as a file name and dag_id (also blocks path traversal)."""

    def __init__(self, message: str, *, pipeline_id: object = None) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id


class UnreadablePipeline(StoreError):
    """The stored file exists but cannot be read or is not a JSON object."""

    def __init__(self, message: str, *, pipeline_id: str | None = None, location: str | None = None) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id
        self.location = location


class ConflictError(StoreError):
    """The pipeline changed since the caller read it (stale etag), or already exists on create.

    ``current`` is what is stored now (None when the pipeline was deleted in the meantime, or when the
    stored file is not a JSON object) and
    ``attempted`` the document the caller tried to write (None for a delete). Nothing was written.
    """

    def __init__(
        self,
        message: str,
        *,
        pipeline_id: str,
        current: StoredPipeline | None,
        attempted: dict[str, Any] | None,
        expected_etag: str | None,
    ) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id
        self.current = current
        self.attempted = attempted
        self.expected_etag = expected_etag


class PipelineTooLarge(StoreError):
    """A document larger than ``[logidata] max_pipeline_bytes``: refused on save, unreadable when stored.

    ``size`` and ``limit`` are in bytes (the serialized JSON for a save, the file for a stored one).
    """

    def __init__(self, message: str, *, pipeline_id: str | None, size: int, limit: int) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id
        self.size = size
        self.limit = limit


class UnstorablePipeline(StoreError):
    """A document that cannot be stored as JSON the store could read back (NaN, a 50-digit integer,
    nesting deeper than the JSON limits, values that are not JSON at all). Nothing was written."""

    def __init__(self, message: str, *, pipeline_id: str | None) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id
