"""Config models of source modules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig


class CsvOptions(ModuleConfig):
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    header: bool = Field(True, description="The first line holds the column names.")
    quote: str = Field('"', min_length=1, max_length=1, description="Quote character.")
    null_values: list[str] = Field(default_factory=lambda: [""], description="Texts read as null.")


class FileSourceConfig(ModuleConfig):
    """Read CSV, Parquet or JSON-lines files from a local path or an object-storage URI."""

    path: str = Field(
        min_length=1,
        description="Local path or object-storage URI (s3://conn_id@bucket/key). Globs (*, **) read "
        "every matching file. Templated: {{ ds }} works.",
        json_schema_extra={"x-logidata-widget": "path"},
    )
    format: Literal["auto", "csv", "parquet", "jsonl"] = Field(
        "auto", description="File format; `auto` decides by the file extension."
    )
    csv: CsvOptions = Field(default_factory=CsvOptions, description="Options for CSV files.")
    infer_types: bool = Field(
        True, description="Detect numbers, dates and booleans in CSV; off reads every column as text."
    )
    columns: list[ColumnName] | None = Field(None, description="Read only these columns (default: all).")
    conn_id: str | None = Field(
        None,
        min_length=1,
        description="Airflow connection (type aws) for plain s3://bucket/key paths, the same as writing "
        "s3://conn_id@bucket/key. The connection's extra endpoint_url points at MinIO and other "
        "S3-compatible servers. Ignored for local paths.",
        json_schema_extra={"x-logidata-widget": "connection", "x-logidata-conn-type": "aws"},
    )
