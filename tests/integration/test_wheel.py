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


def _checkout(tmp_path: Path) -> Path:
    """The repository's committed files (no ui_dist, no node_modules): what a git URL or a clone builds."""
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    copy = tmp_path / "src"
    for name in listed.splitlines():
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    assert not (copy / "airflow_provider_logidata" / "ui_dist").exists()
    return copy


def _path_without_node(tmp_path: Path) -> str:
    """A PATH holding this Python only: no node, no npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    return str(bin_dir)


def _wheel(source: Path, out: Path, path: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out)]
    env = {"PATH": path, "HOME": str(out), "PIP_NO_INDEX": "1"}
    return subprocess.run([*command, str(source)], capture_output=True, text=True, env=env)


def test_building_a_checkout_without_node_says_what_to_install(tmp_path: Path) -> None:
    """Issue 15: `pip install .` from a checkout with no UI bundle and no Node.js stops, saying so, rather
    than installing a builder that answers 503."""
    built = _wheel(_checkout(tmp_path), tmp_path / "out", _path_without_node(tmp_path))
    assert built.returncode != 0
    assert (
        "needs the builder UI bundle, built from ui/ with Node.js 20.19+ and npm"
        in built.stderr + built.stdout
    )
    assert not list((tmp_path / "out").glob("*.whl"))


def test_building_a_checkout_builds_the_ui_and_its_sdist_carries_it(tmp_path: Path) -> None:
    """With Node.js, building the wheel builds the bundle into it; the sdist carries the bundle, so a wheel
    built from the sdist needs no Node.js. (The checkout reuses ui/node_modules: nothing is downloaded.)"""
    import os
    import tarfile

    source = _checkout(tmp_path)
    (source / "ui" / "node_modules").symlink_to(REPO / "ui" / "node_modules")
    built = _wheel(source, tmp_path / "out", os.environ["PATH"])
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "out").glob("airflow_provider_logidata-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "airflow_provider_logidata/ui_dist/index.html" in archive.namelist()

    sdist_dir = tmp_path / "sdist"
    subprocess.run(
        [sys.executable, "-c", f"import logidata_build; logidata_build.build_sdist({str(sdist_dir)!r})"],
        cwd=source,
        env={**os.environ, "PYTHONPATH": str(source / "build_backend")},
        check=True,
        capture_output=True,
    )
    (archive_path,) = sdist_dir.glob("airflow_provider_logidata-*.tar.gz")
    with tarfile.open(archive_path) as sdist:
        names = sdist.getnames()
        assert any(n.endswith("airflow_provider_logidata/ui_dist/index.html") for n in names)
        assert any(n.endswith("build_backend/logidata_build.py") for n in names)
        sdist.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    from_sdist = _wheel(unpacked, tmp_path / "out2", _path_without_node(tmp_path / "again"))
    assert from_sdist.returncode == 0, from_sdist.stderr
