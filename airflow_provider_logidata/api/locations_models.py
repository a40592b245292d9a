"""Answers of the data-location browser (``GET /locations``, ``GET /locations/browse``).

Kept out of ``models.py`` so the browser is one self-contained feature; strict like every answer there,
so the UI's generated types match exactly what is sent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_logidata.api.models import Timestamp  # noqa: TC001 (pydantic resolves it at run time)

LocationKind = Literal["local", "s3"]
EntryKind = Literal["file", "directory"]


class _Response(BaseModel):
    # As models._Response: fields with defaults are still always sent, so the TS types mark them required.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class Location(_Response):
    """One root a pipeline may read under, from ``[logidata] allowed_paths``."""

    kind: LocationKind
    uri: str = Field(
        description="What to browse (`GET /locations/browse?uri=`) and to write in a config path field: an "
        "absolute local path, or `s3://bucket/prefix` (the connection goes in `conn_id`)."
    )
    label: str = Field(description="What the location is, for people.")
    conn_id: str | None = Field(
        description="The Airflow connection the policy ties this prefix to (send it as `conn_id`); null for "
        "local folders and for prefixes any aws connection with keys of its own may reach."
    )
    browsable: bool = Field(
        description="False for a prefix allowed in any bucket (`s3://*/...`): name a bucket to browse it."
    )


class LocationList(_Response):
    locations: list[Location]


class LocationEntry(_Response):
    """One child of a browsed folder or prefix that the policy lets a pipeline read."""

    name: str
    uri: str = Field(description="The child's location, in the form the browse request named (config-ready).")
    kind: EntryKind
    size: int | None = Field(description="Bytes; null for directories.")
    modified: Timestamp | None = Field(description="Last modification (UTC); null for directories on S3.")


class LocationListing(_Response):
    uri: str = Field(
        description="The browsed folder or prefix, normalized: no '..', no trailing '/' (but for a bucket's "
        "root, `s3://bucket/`)."
    )
    kind: LocationKind
    conn_id: str | None = Field(description="The connection the listing went through (S3); null for local.")
    parent: str | None = Field(
        description="The enclosing folder if the policy allows browsing it too, else null (at a root)."
    )
    entries: list[LocationEntry] = Field(
        description="Directories first, then files, each by name (case-insensitive). Hidden names (starting "
        "with '.', e.g. writes in progress), special files and what the policy refuses are left out."
    )
    truncated: bool = Field(description="More entries exist than `limit`; narrow the folder to see them.")
    limit: int = Field(description="The most entries one answer holds.")
