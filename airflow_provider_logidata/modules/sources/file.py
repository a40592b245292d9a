"""source.file: read CSV, Parquet or JSON-lines files, local or on object storage, globs allowed.

The reading (path policy, globs, DuckDB's readers, previews' head reads) is the engine's:
``engine.sources``. Its opener is imported when a task reads, never when the DAG processor reads this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, StorageConnId, applies_when
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.sources import DuckQuery


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
    csv: CsvOptions = Field(
        default_factory=CsvOptions,
        description="Options for CSV files.",
        json_schema_extra=applies_when(format=["auto", "csv"]),
    )
    infer_types: bool = Field(
        True,
        description="Detect numbers, dates and booleans in CSV; off reads every column as text.",
        json_schema_extra=applies_when(format=["auto", "csv"]),
    )
    columns: list[ColumnName] | None = Field(None, description="Read only these columns (default: all).")
    conn_id: StorageConnId = None


def open_source(config: ModuleConfig, node_id: str, log: TaskLog) -> AbstractContextManager[DuckQuery]:
    from airflow_provider_logidata.engine.sources import open_file_source

    return open_file_source(config, node_id, log)


MODULE = ModuleDef(
    name="source.file",
    category="source",
    label="File",
    description="Read CSV, Parquet or JSON-lines files (local or object storage, globs allowed).",
    config_model=FileSourceConfig,
    operator="airflow_provider_logidata.operators.sources.FileSourceOperator",
    min_inputs=0,
    max_inputs=0,
    icon="file",
    duckdb=open_source,
)
