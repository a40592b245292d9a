"""Config models of destination modules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ModuleConfig


class FileDestinationConfig(ModuleConfig):
    """Write one Parquet or CSV file, replacing the previous one only once the new one is complete."""

    path: str = Field(
        min_length=1,
        description="Target file: local path or object-storage URI (s3://conn_id@bucket/key). Templated.",
        json_schema_extra={"x-logidata-widget": "path"},
    )
    format: Literal["parquet", "csv"] = Field("parquet", description="File format.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
        "zstd", description="Parquet compression codec (ignored for CSV)."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    header: bool = Field(True, description="Write a header line (CSV).")
