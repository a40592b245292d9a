"""Destination operators: write the staged input to its final place."""

from __future__ import annotations

from airflow_provider_logidata.modules.destinations import FileDestinationConfig
from airflow_provider_logidata.operators.base import LogiDataDestinationOperator


class FileDestinationOperator(LogiDataDestinationOperator):
    """Write one Parquet or CSV file, replaced atomically (config: ``FileDestinationConfig``).

    ``path`` is templated (``shipped_{{ ds_nodash }}.csv``). Returns ``{"uri", "rows", "format"}``.
    """

    module_name = "destination.file"
    config_model = FileDestinationConfig
