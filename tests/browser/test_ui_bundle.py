"""The built builder bundle: relative asset URLs (served under /logidata/ui/) and shipped in the wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UI_DIST = REPO / "airflow_provider_logidata" / "ui_dist"


@pytest.fixture(scope="module")
def index_html() -> str:
    index = UI_DIST / "index.html"
    if not index.is_file():
        pytest.fail(f"{index} missing: run `make ui` (make test builds it first)")
    return index.read_text()


def referenced_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_bundle_uses_relative_urls_that_exist(index_html: str) -> None:
    refs = referenced_assets(index_html)
    assert refs, "index.html references no script"
    for ref in refs:
        assert ref.startswith("./assets/"), f"{ref} is not relative: vite base must be './'"
        assert (UI_DIST / ref).is_file(), f"{ref} referenced by index.html is missing"


def test_wheel_ships_the_bundle(index_html: str, tmp_path: Path) -> None:
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
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "airflow_provider_logidata/ui_dist/index.html" in names
    for ref in referenced_assets(index_html):
        assert f"airflow_provider_logidata/ui_dist/{ref[2:]}" in names
    lazy = [p.name for p in (UI_DIST / "assets").iterdir()]
    assert any(n.startswith("EditorPage-") for n in lazy), "the editor chunk (code-split) is missing"
    assert all(f"airflow_provider_logidata/ui_dist/assets/{n}" in names for n in lazy)
