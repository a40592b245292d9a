"""Plugin wiring: cheap to import everywhere, and views Airflow 3.3 accepts."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_plugin_builds_nothing() -> None:
    """Scheduler, DAG processor and task runners import plugins: no FastAPI, engine or pandas then."""
    code = (
        "import sys; import airflow.plugins_manager;"
        "import airflow_provider_logidata.plugin as p;"
        "heavy = [m for m in ('fastapi', 'pandas', 'duckdb', 'pyarrow', 'airflow_provider_logidata.api.app',"
        " 'airflow_provider_logidata.engine') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_external_views_are_valid_for_airflow() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from airflow_provider_logidata.plugin import LogiDataPlugin

    views = [ExternalViewResponse.model_validate(v) for v in LogiDataPlugin.external_views]
    by_destination = {v.destination: v for v in views}
    assert by_destination["nav"].href == "/logidata/ui/"
    assert "{DAG_ID}" in by_destination["dag"].href
    assert len({v.url_route for v in views}) == len(views)


def test_fastapi_app_is_built_on_first_access() -> None:
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    from airflow_provider_logidata.plugin import LogiDataPlugin

    (entry,) = LogiDataPlugin.fastapi_apps
    assert entry["url_prefix"] == "/logidata" and entry["name"]
    assert not any(entry["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)
    assert LogiDataPlugin.fastapi_apps[0]["app"] is entry["app"]  # built once


@pytest.mark.parametrize("attr", ["fastapi_apps", "external_views"])
def test_plugin_info_dump_works(attr: str) -> None:
    """`airflow plugins` dumps these attributes; they must survive its serialisation."""
    from airflow_provider_logidata.plugin import LogiDataPlugin

    assert isinstance(getattr(LogiDataPlugin, attr), list)
