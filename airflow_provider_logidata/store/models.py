"""Plain data returned by the pipeline store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt


@dataclass(frozen=True)
class RawPipeline:
    """One ``<root>/<id>.json`` as found on disk: bytes only, nothing decoded or validated."""

    id: str
    location: str
    content: bytes | None
    error: str | None = None


@dataclass(frozen=True)
class StoredPipeline:
    id: str
    version: int
    etag: str
    data: dict[str, Any]
    updated_at: dt.datetime


@dataclass(frozen=True)
class PipelineSummary:
    id: str
    name: str
    status: str
    version: int
    etag: str
    updated_at: dt.datetime | None
    valid: bool
    error_count: int
    location: str = ""
    first_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "etag": self.etag,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "valid": self.valid,
            "error_count": self.error_count,
            "location": self.location,
            "first_error": self.first_error,
        }


@dataclass(frozen=True)
class VersionInfo:
    version: int
    etag: str
    saved_at: dt.datetime | None
    author: str | None
    status: str
    message: str | None = None  # what the author said about the change (optional; restores say so)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "etag": self.etag,
            "saved_at": self.saved_at.isoformat() if self.saved_at else None,
            "author": self.author,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class DeletedPipeline:
    """A pipeline whose current file is gone but whose history is kept, so restore can bring it back."""

    id: str
    name: str | None
    last_version: int
    deleted_at: dt.datetime | None
    author: str | None  # who saved the last version (the store does not know who deleted it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "last_version": self.last_version,
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
            "author": self.author,
        }
