"""Source operators: read external data into staging."""

from __future__ import annotations

from airflow_provider_logidata.modules.sources import FileSourceConfig
from airflow_provider_logidata.operators.base import LogiDataSourceOperator


class FileSourceOperator(LogiDataSourceOperator):
    """Read CSV, Parquet or JSON-lines files (local or object storage, globs allowed) into staging.

    Config: :class:`~airflow_provider_logidata.modules.sources.FileSourceConfig`. ``path`` is templated.
    Returns the staging handle.
    """

    module_name = "source.file"
    config_model = FileSourceConfig
