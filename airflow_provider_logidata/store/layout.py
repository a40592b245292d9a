"""Where a pipeline's files are and what they hold: ids, file names, etags, and the state read before a write.

The layout itself is described in ``store.store``; everything here is pure (no backend access).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store.errors import InvalidPipelineId

HISTORY_DIR = ".history"
TRASH_DIR = ".trash"
INDEX_FILE = "index.json"
ETAG_LENGTH = 16
MAX_ID_LENGTH = 200
SUFFIX = ".json"
HASH_CHUNK = 1024 * 1024
MAX_VERSION = 10**15

_ID_RE = re.compile(PIPELINE_ID_PATTERN)
VERSION_RE = re.compile(r"^v(\d{6,})\.json$")


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


def is_pipeline_id(value: object) -> bool:
    """Whether ``value`` could be a pipeline id (folders named otherwise are not pipelines)."""
    try:
        check_pipeline_id(value)
    except InvalidPipelineId:
        return False
    return True


MAX_MESSAGE_LENGTH = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_message(message: str | None) -> str | None:
    """A version's message as one line of at most ``MAX_MESSAGE_LENGTH`` characters; None when blank.

    The message is shown in lists and diffs, so line breaks and control characters become spaces; a longer
    text is refused by the API's model before it gets here, the cut is only a last guard.
    """
    if message is None:
        return None
    text = " ".join(_CONTROL.sub(" ", message).split())
    return text[:MAX_MESSAGE_LENGTH] or None


_TRASH_STAMP = re.compile(r"(\d{8}T\d{12})Z(?:-\d+)?\.json$")


def trash_time(location: str) -> dt.datetime | None:
    """When a deleted copy was moved to the trash, from its file name (``<timestamp>[-n].json``)."""
    match = _TRASH_STAMP.search(location)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def status_of(data: Any) -> str:
    if not isinstance(data, dict):
        return "invalid"
    status = data.get("status", "active")
    return status if isinstance(status, str) else "invalid"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def size_text(size: int) -> str:
    return f"{size:,} bytes"


@dataclass
class State:
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
