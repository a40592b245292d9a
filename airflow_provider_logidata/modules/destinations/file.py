"""destination.file: write Parquet or CSV, one file or a folder of Hive partitions, replaced atomically.

The writing (single file, partitioned folder, cursor loads that add to what earlier runs wrote, the copy
of a staged file that already is the output) is the engine's: ``engine.destinations`` and the files it
names. Its writer is imported when a task writes, never when the DAG processor reads this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, StorageConnId, applies_when
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.staging import StagingHandle


class FileDestinationConfig(ModuleConfig):
    """Write Parquet or CSV: one file, or a folder (Hive-style partitions), replaced only once complete.

    A single file is written under a temporary name and moved over the target. A folder (``path`` ending
    in ``/``, or any ``partition_by``) is written whole under a hidden temporary sibling, then committed:
    on a local disk each replaced folder is swapped in by renames; on object storage (S3) the new files
    are copied into place, then the old files they replace are deleted, so readers may see a mix of old
    and new files during that short commit step, never a half-written file. A failure before the commit
    leaves the previous output untouched and removes the temporary files.
    """

    path: str = Field(
        min_length=1,
        description="Target file, or folder when it ends in / or partition_by is set: local path or "
        "object-storage URI (s3://conn_id@bucket/key). Templated.",
        json_schema_extra={"x-logidata-widget": "path"},
    )
    format: Literal["parquet", "csv"] = Field("parquet", description="File format.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
        "zstd",
        description="Parquet compression codec (ignored for CSV).",
        json_schema_extra=applies_when(format=["parquet"]),
    )
    delimiter: str = Field(
        ",",
        min_length=1,
        max_length=1,
        description="CSV field separator.",
        json_schema_extra=applies_when(format=["csv"]),
    )
    header: bool = Field(
        True, description="Write a header line (CSV).", json_schema_extra=applies_when(format=["csv"])
    )
    conn_id: StorageConnId = None
    partition_by: list[ColumnName] | None = Field(
        None,
        description="Write a folder with one sub-folder per value (Hive style: country=FR/part-0.parquet), "
        "nested in this column order. Values are percent-encoded in folder names (a/b becomes a%2Fb); "
        "nulls go to __HIVE_DEFAULT_PARTITION__. The columns are stored in the folder names, not the files.",
    )
    mode: Literal["replace", "overwrite_partitions"] = Field(
        "replace",
        description="replace: the new output replaces the whole target. overwrite_partitions (with "
        "partition_by): only the partitions present in the new data are replaced; the others are kept.",
    )

    @field_validator("partition_by")
    @classmethod
    def _distinct_partition_columns(cls, value: list[str] | None) -> list[str] | None:
        if not value:
            return None
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"partition columns must be distinct; repeated: {', '.join(repeated)}")
        from airflow_provider_logidata.security.paths import check_segment

        for name in value:
            check_segment(name, "partition column")
        return value

    @model_validator(mode="after")
    def _partitions_for_overwrite(self) -> FileDestinationConfig:
        if self.mode == "overwrite_partitions" and not self.partition_by:
            raise ValueError("mode 'overwrite_partitions' needs partition_by; use mode 'replace' otherwise")
        return self


def write(
    config: ModuleConfig, node_id: str, handles: Sequence[StagingHandle], log: TaskLog
) -> dict[str, Any]:
    from airflow_provider_logidata.engine.destinations import run_file_destination

    return run_file_destination(config, node_id, handles, log)


MODULE = ModuleDef(
    name="destination.file",
    category="destination",
    label="File",
    description="Write a Parquet or CSV file, replaced atomically.",
    config_model=FileDestinationConfig,
    operator="airflow_provider_logidata.operators.destinations.FileDestinationOperator",
    min_inputs=1,
    max_inputs=1,
    outputs=(),
    icon="save",
    duckdb=write,
)
