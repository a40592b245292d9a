"""The per-pipeline list of dismissed suggestion ids: a sidecar file beside the pipeline, not in it.

Dismissing a suggestion is a preference about the pipeline, not an edit of it: it must not create a
version, change the etag (which would turn every open editor's next save into a conflict) or reach the
DAG. So the ids live in ``<root>/.dismissed/<id>.json``, a dot-folder that the pipeline listing (only
top-level ``*.json`` files) and therefore the DAG factory never look into. The file is a convenience:
when it is missing or damaged the pipeline simply has no dismissals.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

DISMISSED_DIR = ".dismissed"
# The newest ids are kept: a suggestion dismissed long ago that comes back is a small price for a file
# that cannot grow without bound on a pipeline edited for years.
MAX_DISMISSED = 1000
MAX_SUGGESTION_ID_LENGTH = 1000


def dismissed_rel(pipeline_id: str) -> str:
    return f"{DISMISSED_DIR}/{pipeline_id}.json"


def check_suggestion_id(value: object) -> str:
    """``value`` if it can be stored as a suggestion id, else ValueError (the API refuses these first)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"a suggestion id must be non-empty text, found {value!r}")
    if len(value) > MAX_SUGGESTION_ID_LENGTH:
        raise ValueError(
            f"suggestion id is {len(value)} characters long; at most {MAX_SUGGESTION_ID_LENGTH} are allowed"
        )
    return value


def decode(content: bytes, *, location: str) -> list[str]:
    """Ids from the file's bytes, oldest first; a damaged file reads as empty (with a warning)."""
    from airflow_provider_logidata.security import jsonsafe

    try:
        data: Any = jsonsafe.loads(content)  # bounded like every stored document (a ValueError when not)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("logidata: ignoring the dismissed suggestions in %s: not JSON (%s)", location, exc)
        return []
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        log.warning(
            "logidata: ignoring the dismissed suggestions in %s: expected an object with an 'ids' list",
            location,
        )
        return []
    out: list[str] = []
    seen: set[str] = set()
    for item in ids:
        if isinstance(item, str) and item and item not in seen:
            seen.add(item)
            out.append(item)
    return out[-MAX_DISMISSED:]


def encode(pipeline_id: str, ids: list[str]) -> bytes:
    return (json.dumps({"pipeline_id": pipeline_id, "ids": ids}, indent=2, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def with_id(ids: list[str], suggestion_id: str) -> list[str]:
    """``suggestion_id`` as the newest entry (moved there if already present), capped at MAX_DISMISSED."""
    return [*(i for i in ids if i != suggestion_id), suggestion_id][-MAX_DISMISSED:]


def without_id(ids: list[str], suggestion_id: str) -> list[str]:
    return [i for i in ids if i != suggestion_id]
