"""Destination operators: write the staged input to its final place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig
from airflow_provider_logidata.operators.base import LogiDataDestinationOperator
from airflow_provider_logidata.operators.lineage import LineageMixin, file_lineage_uri

if TYPE_CHECKING:
    from collections.abc import Mapping


class FileDestinationOperator(LineageMixin, LogiDataDestinationOperator):
    """Write a Parquet or CSV file, or a partitioned folder, replaced atomically (``FileDestinationConfig``).

    ``path`` is templated (``shipped_{{ ds_nodash }}.csv``). Returns ``{"uri", "rows", "format"}`` (plus
    ``files`` and ``partitions`` for a folder). A path without template is declared as an outlet ``Asset``.
    """

    module_name = "destination.file"
    config_model = FileDestinationConfig
    lineage_role = "output"

    def lineage_uri(self, config: Mapping[str, Any]) -> str | None:
        return file_lineage_uri(config, allow_glob=True)  # written paths are literal: no globs
