"""Airflow sees LogiData as a provider and as a plugin through the installed entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_logidata.get_provider_info import get_provider_info

pytestmark = pytest.mark.integration

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _airflow_json(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [AIRFLOW, *args, "-o", "json"], capture_output=True, text=True, check=True, env=os.environ.copy()
    )
    start = out.stdout.index("[")
    result: list[dict[str, object]] = json.loads(out.stdout[start:])
    return result


def test_providers_list_shows_logidata(airflow_db: Path) -> None:
    providers = _airflow_json("providers", "list")
    names = {p["package_name"] for p in providers}
    assert "airflow-provider-logidata" in names


def test_plugins_lists_logidata(airflow_db: Path) -> None:
    plugins = _airflow_json("plugins")
    assert "logidata" in {p["name"] for p in plugins}


def test_config_section_declared() -> None:
    options = get_provider_info()["config"]["logidata"]["options"]
    assert {"pipelines_path", "staging_path", "report_path", "keep_staging", "duckdb_memory_limit"} <= set(
        options
    )
    assert get_provider_info()["package-name"] == "airflow-provider-logidata"


def test_config_section_read_through_airflow(airflow_db: Path, tmp_path: Path) -> None:
    """Values set in airflow.cfg (not only env vars) reach the settings module, lazily."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "airflow.cfg").write_text("[logidata]\nstaging_path = s3://aws_default@bucket/stage\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__LOGIDATA__")}
    env["AIRFLOW_HOME"] = str(home)
    env["AIRFLOW_CONFIG"] = str(home / "airflow.cfg")
    code = "from airflow_provider_logidata import settings; print(settings.staging_path()); print(settings.pipelines_path())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    staging, pipelines = out.stdout.strip().splitlines()[-2:]
    assert staging == "s3://aws_default@bucket/stage"
    assert pipelines == str(home / "logidata" / "pipelines")
