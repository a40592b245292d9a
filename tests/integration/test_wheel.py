"""The built wheel carries everything `pip install airflow-provider-logidata` needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_wheel_has_package_data_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("airflow_provider_logidata-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "airflow_provider_logidata/spec/schema/pipeline-v1.schema.json" in names
    assert "airflow_provider_logidata/examples/data/orders.csv" in names
    assert "airflow_provider_logidata/examples/orders_cleaning.json" in names
    assert "airflow_provider_logidata/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)
    assert "[apache_airflow_provider]" in entry_points
    assert "provider_info = airflow_provider_logidata.get_provider_info:get_provider_info" in entry_points
    assert "logidata = airflow_provider_logidata.plugin:LogiDataPlugin" in entry_points
    assert "logidata = airflow_provider_logidata.cli.main:main" in entry_points
