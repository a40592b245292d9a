"""The ``source.http_api`` operator: JSON records from a REST API into staging.

Import-light like every operator module: only ``airflow.sdk`` (through the base) and the config model at
module level; the HTTP engine (requests, the http provider's hook, pyarrow) is imported in ``run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.modules.http_api import HttpApiSourceConfig
from airflow_provider_logidata.operators.base import LogiDataSourceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle
    from airflow_provider_logidata.modules.base import ModuleConfig


class HttpApiSourceOperator(LogiDataSourceOperator):
    """Read JSON records from a REST API through an Airflow ``http`` connection, page by page.

    Config: :class:`~airflow_provider_logidata.modules.http_api.HttpApiSourceConfig`. Every string in it is
    templated (``endpoint``, ``params``, ``headers``, ``body``). Returns the staging handle.
    """

    module_name = "source.http_api"
    config_model = HttpApiSourceConfig
    ui_color = "#cffafe"

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        # Importing the engine module registers the source with the engine's ``SOURCES``.
        from airflow_provider_logidata.engine import http_api  # noqa: F401

        return super().run(config, handles, input_ids, context)
