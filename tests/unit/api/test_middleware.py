"""Error shape, body size limit and the last-resort 500, on a bare FastAPI app (no Airflow)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from airflow_provider_logidata.api.errors import CatchAllMiddleware, install_error_handlers
from airflow_provider_logidata.api.limits import BodyLimitMiddleware


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


@pytest.fixture(scope="module")
def client() -> Any:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=1000)

    @app.post("/echo")
    def echo(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_ok(client: Any) -> None:
    assert client.post("/echo", json={"name": "a"}).json() == {"name": "a"}


def test_malformed_json_is_400(client: Any) -> None:
    response = client.post("/echo", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON")
    assert response.json()["errors"] == []


def test_extra_and_missing_fields_are_422_with_paths(client: Any) -> None:
    response = client.post("/echo", json={"nme": "a"})
    assert response.status_code == 422
    issues = {(e["path"], e["message"]) for e in response.json()["errors"]}
    assert issues == {("nme", "unknown field 'nme'"), ("name", "required field is missing")}


def test_oversize_by_content_length(client: Any) -> None:
    response = client.post("/echo", json={"name": "x" * 2000})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_oversize_streamed_without_content_length(client: Any) -> None:
    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = client.post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_unhandled_error_is_a_json_500_without_traceback(client: Any) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert "RuntimeError" in body["detail"] and "secret internals" not in response.text
    assert body["errors"] == []


def test_unknown_path_is_404_in_the_error_shape(client: Any) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found", "errors": []}
