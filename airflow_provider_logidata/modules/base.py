"""Base class of every module's config model: the single source of truth for validation and UI forms."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A column name as it appears in the data. Any text is allowed: the engine always quotes identifiers.
ColumnName = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"x-logidata-widget": "column"}),
]


class ModuleConfig(BaseModel):
    """Strict by design: a misspelt option must be an error, never a silently ignored key."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, use_attribute_docstrings=False)
