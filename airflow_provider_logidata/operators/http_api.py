"""The ``source.http_api`` operator: JSON records from a REST API into staging.

Import-light like every operator module: only ``airflow.sdk`` (through the base) and the config model at
module level; the HTTP engine (requests, the http provider's hook, pyarrow) is imported when the task runs
(the module's opener, ``modules/sources/http_api.py``).
"""

from __future__ import annotations

from airflow_provider_logidata.modules.sources.http_api import HttpApiSourceConfig
from airflow_provider_logidata.operators.base import LogiDataSourceOperator


class HttpApiSourceOperator(LogiDataSourceOperator):
    """Read JSON records from a REST API through an Airflow ``http`` connection, page by page.

    Config: :class:`~airflow_provider_logidata.modules.sources.http_api.HttpApiSourceConfig`. Every string
    in it is templated (``endpoint``, ``params``, ``headers``, ``body``). Returns the staging handle.
    """

    module_name = "source.http_api"
    config_model = HttpApiSourceConfig
    ui_color = "#cffafe"
