"""Serving the built UI bundle: index fallback, no path traversal, a clear 503 when not built."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from airflow_provider_logidata.api.static import MISSING_MESSAGE, resolve, ui_response


def _request(accept: str = "*/*") -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"accept", accept.encode())]})


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>builder</html>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


def test_files_and_fallback(bundle: Path) -> None:
    asset = ui_response(_request(), "assets/app-1234.js", bundle)
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert asset.media_type in ("text/javascript", "application/javascript")
    page = ui_response(_request("text/html"), "pipelines/orders", bundle)  # client-side route
    assert page.status_code == 200 and page.media_type == "text/html"
    assert page.headers["cache-control"] == "no-cache"
    assert ui_response(_request(), "", bundle).status_code == 200
    assert ui_response(_request(), "assets/missing.js", bundle).status_code == 404


@pytest.mark.parametrize("path", ["../secret.txt", "assets/../../secret.txt", ".hidden", "a//b"])
def test_no_path_traversal(bundle: Path, path: str) -> None:
    assert resolve(bundle, path) is None


def test_missing_bundle_is_a_clear_503(tmp_path: Path) -> None:
    html = ui_response(_request("text/html"), "", tmp_path / "nothing")
    assert html.status_code == 503 and MISSING_MESSAGE in bytes(html.body).decode()
    api = ui_response(_request("application/json"), "x", tmp_path / "nothing")
    assert api.status_code == 503 and MISSING_MESSAGE in bytes(api.body).decode()
