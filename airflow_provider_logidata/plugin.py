"""Airflow plugin entry point (``airflow.plugins``): the pipeline builder inside Airflow's UI.

Every Airflow component imports this module (the scheduler and DAG processor load plugins for
timetables and listeners, task runners for macros), but only the api-server mounts the builder. So the
FastAPI app is built on first access of ``fastapi_apps`` (by the api-server's plugin loader, or by
``airflow plugins``), and importing this module costs only the class definition.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/logidata"
UI_HREF = f"{URL_PREFIX}/ui/"


class _LazyFastAPIApps:
    """Class attribute that builds the builder's FastAPI app the first time it is read."""

    def __init__(self) -> None:
        self._value: list[dict[str, Any]] | None = None

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        if self._value is None:
            from airflow_provider_logidata.api.app import get_app

            self._value = [{"app": get_app(), "url_prefix": URL_PREFIX, "name": "LogiData builder"}]
        return self._value


class LogiDataPlugin(AirflowPlugin):
    name = "logidata"
    fastapi_apps = _LazyFastAPIApps()  # type: ignore[assignment]
    external_views = [
        {
            # Top-level entry in Airflow's navigation; Airflow renders the href in a same-origin iframe
            # at /plugin/logidata.
            "name": "Pipelines",
            "href": UI_HREF,
            "url_route": "logidata",
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{URL_PREFIX}/icon.svg",
            "icon_dark_mode": f"{URL_PREFIX}/icon.svg",
        },
        {
            # A "Pipeline" tab on every DAG page; Airflow fills in {DAG_ID} (= the pipeline id).
            "name": "Pipeline",
            "href": f"{UI_HREF}#/pipelines/{{DAG_ID}}",
            "url_route": "logidata-pipeline",
            "destination": "dag",
            "icon": f"{URL_PREFIX}/icon.svg",
            "icon_dark_mode": f"{URL_PREFIX}/icon.svg",
        },
    ]
