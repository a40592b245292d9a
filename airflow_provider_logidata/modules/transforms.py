"""Config models of transform modules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig

CastType = Literal["string", "integer", "float", "decimal", "boolean", "date", "timestamp"]
OnError = Literal["fail", "null"]


class ColumnSelection(ModuleConfig):
    name: ColumnName = Field(description="Input column.")
    rename: ColumnName | None = Field(None, description="New name (default: keep the name).")
    cast: CastType | None = Field(None, description="Convert to this type (default: keep the type).")


class SelectColumnsConfig(ModuleConfig):
    """Keep, order, rename and cast columns."""

    columns: list[ColumnSelection] = Field(min_length=1, description="Columns to output, in order.")
    keep_other_columns: bool = Field(
        False, description="Also pass through input columns not listed, after the listed ones."
    )
    on_error: OnError = Field(
        "fail", description="A value that cannot be cast: fail the task, or make it null and log the count."
    )

    @model_validator(mode="after")
    def _unique_outputs(self) -> SelectColumnsConfig:
        seen: set[str] = set()
        for column in self.columns:
            out = column.rename or column.name
            if out in seen:
                raise ValueError(f"output column {out!r} appears twice; each output name must be unique")
            seen.add(out)
        return self


class FilterRowsConfig(ModuleConfig):
    """Keep the rows for which a SQL boolean expression is true."""

    condition: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL boolean expression over the input columns, e.g. amount > 0 AND status <> 'test'.",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


class DeduplicateConfig(ModuleConfig):
    """Remove duplicate rows, comparing all columns or only key columns."""

    columns: list[ColumnName] | None = Field(
        None, description="Key columns that identify a row (default: all columns)."
    )
    keep: Literal["first", "last"] = Field("first", description="Which of the duplicates to keep.")


class Fill(ModuleConfig):
    column: ColumnName = Field(description="Column whose nulls are filled.")
    strategy: Literal["constant", "mean", "median", "mode", "min", "max"] = Field(
        "constant", description="Where the fill value comes from."
    )
    value: Any = Field(
        None,
        description="The value, for `constant`.",
        json_schema_extra={"type": ["string", "number", "integer", "boolean", "null"]},
    )

    @model_validator(mode="after")
    def _value_matches_strategy(self) -> Fill:
        if not isinstance(self.value, str | int | float | bool | None):
            raise ValueError("value must be a text, a number or a boolean")
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value")
        if self.strategy != "constant" and self.value is not None:
            raise ValueError(f"strategy {self.strategy!r} computes the value; remove 'value'")
        return self


class FillNullsConfig(ModuleConfig):
    """Replace nulls with a constant or a statistic of the column."""

    fills: list[Fill] = Field(min_length=1, description="One entry per column to fill.")


class CleanTextConfig(ModuleConfig):
    """Trim, collapse spaces and normalise the case of text columns."""

    columns: list[ColumnName] | None = Field(None, description="Text columns to clean (default: all text).")
    trim: bool = Field(True, description="Remove leading and trailing white space.")
    collapse_spaces: bool = Field(True, description="Replace runs of white space with one space.")
    case: Literal["keep", "lower", "upper", "title"] = Field("keep", description="Change the letter case.")
    empty_as_null: bool = Field(False, description="Turn empty texts (after cleaning) into nulls.")


class ParseDatesConfig(ModuleConfig):
    """Parse text columns into dates or timestamps with explicit formats."""

    columns: list[ColumnName] = Field(min_length=1, description="Text columns to parse.")
    formats: list[str] = Field(
        min_length=1,
        description="strptime formats tried in order, e.g. %Y-%m-%d, %d/%m/%Y, %Y-%m-%dT%H:%M:%S.",
    )
    target: Literal["date", "timestamp"] = Field("date", description="Resulting type.")
    on_error: OnError = Field(
        "fail", description="A text no format matches: fail the task, or make it null and log the count."
    )
