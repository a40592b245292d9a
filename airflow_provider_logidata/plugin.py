"""Airflow plugin entry point (``airflow.plugins``).

The builder UI (FastAPI app and external views) lands with the builder issue; the plugin is registered
now so `airflow plugins` lists LogiData and the wiring is exercised from the first release.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class LogiDataPlugin(AirflowPlugin):
    name = "logidata"
