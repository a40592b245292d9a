"""Source operators: read external data into staging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.sources.file import FileSourceConfig
from airflow_provider_logidata.operators.base import LogiDataSourceOperator
from airflow_provider_logidata.operators.lineage import LineageMixin, file_lineage_uri

if TYPE_CHECKING:
    from collections.abc import Mapping


class FileSourceOperator(LineageMixin, LogiDataSourceOperator):
    """Read CSV, Parquet or JSON-lines files (local or object storage, globs allowed) into staging.

    Config: :class:`~airflow_provider_logidata.modules.sources.file.FileSourceConfig`. ``path`` is templated.
    Returns the staging handle. A path without template or glob is declared as an inlet ``Asset``.
    """

    module_name = "source.file"
    config_model = FileSourceConfig
    lineage_role = "input"

    def lineage_uri(self, config: Mapping[str, Any]) -> str | None:
        return file_lineage_uri(config)

    def openlineage_uri(self, config: Mapping[str, Any]) -> str | None:
        return file_lineage_uri(config, allow_glob=True)  # a glob is reported as its folder
