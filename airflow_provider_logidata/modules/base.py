"""Base class of every module's config model: the single source of truth for validation and UI forms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic.json_schema import JsonDict

# A column name as it appears in the data. Any text is allowed: the engine always quotes identifiers.
ColumnName = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"x-logidata-widget": "column"}),
]
# A column a node creates or renames to: not checked against its input (design-time checks read the
# ``column`` widget as "must exist upstream"), offered as free text with the input's names as hints.
NewColumnName = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"x-logidata-widget": "new-column"}),
]

# The Airflow connection of a PostgreSQL source or destination (a connection picker in the form).
PostgresConnId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=250,
        description="Airflow connection of type postgres (host, port, database, login, password).",
        json_schema_extra={"x-logidata-widget": "connection", "x-logidata-conn-type": "postgres"},
    ),
]
# The object-storage connection of a file source or destination (optional: local paths need none).
StorageConnId = Annotated[
    str | None,
    Field(
        min_length=1,
        description="Airflow connection (type aws) for plain s3://bucket/key paths, the same as writing "
        "s3://conn_id@bucket/key. The connection's extra endpoint_url points at MinIO and other "
        "S3-compatible servers. Ignored for local paths.",
        # Shown in the builder only for an object-storage ``path`` (or once set).
        json_schema_extra={
            "x-logidata-widget": "connection",
            "x-logidata-conn-type": "aws",
            "x-logidata-when-remote": "path",
        },
    ),
]


def applies_when(**conditions: Sequence[Any]) -> dict[str, Any]:
    """A field's JSON Schema extra: the builder shows it only while each named sibling field holds one of
    the values (its default when unset), e.g. CSV options only for ``format: csv``. Validation is
    unchanged, and a field holding a value of its own is always shown, so nothing set is ever hidden."""
    return {"x-logidata-when": {name: list(values) for name, values in conditions.items()}}


class ModuleConfig(BaseModel):
    """Strict by design: a misspelt option must be an error, never a silently ignored key."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, use_attribute_docstrings=False)


# Types shared by several modules' configs.
CastType = Literal["string", "integer", "float", "decimal", "boolean", "date", "timestamp"]
OnError = Literal["fail", "null"]
# A value written in a config (a mapping target, an accepted value, a range bound): text, number or
# boolean. The JSON Schema lists the types so forms can offer the right input.
Value = str | int | float | bool
NULLABLE_VALUE_SCHEMA: JsonDict = {"type": ["string", "number", "integer", "boolean", "null"]}


def unique_names(names: list[str], what: str) -> None:
    """Output column names must differ even when case is ignored (DuckDB matches names that way)."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.lower()
        if key in seen:
            shown = repr(name) if seen[key] == name else f"{seen[key]!r} and {name!r}"
            raise ValueError(f"{what} {shown} appears twice (names are compared ignoring case); rename one")
        seen[key] = name
