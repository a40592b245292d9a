"""JSON limits and store limits through Airflow's real api-server app, with real SimpleAuthManager tokens.

Every POST/PUT route (taken from the published OpenAPI document, so a new route is covered as soon as it
exists) answers 422 in the API's error shape, never 500, for NaN, Infinity, huge integers, float overflow
and deep nesting anywhere in its body; malformed JSON stays a 400. A save over ``max_pipeline_bytes`` is
a 413 naming the setting, and ``GET /pipelines`` lists the good pipelines next to each broken stored file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import Api, airflow_test_client, api_store, assert_error_shape, issue_tokens

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def airflow_client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with airflow_test_client(tmp_path_factory.mktemp("builder-api-limits"), "builder-api-limits") as client:
        yield client


@pytest.fixture(scope="module")
def tokens(airflow_client: Any) -> dict[str, str]:
    return issue_tokens(airflow_client)


@pytest.fixture
def store(airflow_client: Any, tmp_path: Path) -> Any:
    with api_store(tmp_path / "pipelines") as store:
        yield store


@pytest.fixture
def admin(airflow_client: Any, tokens: dict[str, str]) -> Api:
    return Api(airflow_client, tokens["admin"])


def pipeline(pid: str = "orders", **changes: Any) -> dict[str, Any]:
    from airflow_provider_logidata import settings

    data = settings.data_path()
    doc: dict[str, Any] = {
        "spec_version": 1,
        "id": pid,
        "name": f"Pipeline {pid}",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": f"{data}/in.csv", "format": "csv"}},
            {"id": "write", "module": "destination.file", "config": {"path": f"{data}/out.parquet"}},
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    doc.update(changes)
    return doc


def body_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the API that takes a JSON body, from the OpenAPI document."""
    from airflow_provider_logidata.api.app import openapi_document

    routes = []
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch") and "application/json" in (
                operation.get("requestBody", {}).get("content", {})
            ):
                routes.append((method.upper(), path.replace("{pipeline_id}", "orders")))
    return sorted(routes)


ROUTES = body_routes()

# Per route, a body that is valid but for the bad literal, placed where the route takes free-form JSON
# (pipeline params, run conf) or a number; routes without such a field get it as an extra key.
PIPE = (
    '{"spec_version": 1, "id": "orders", "status": "draft", "nodes": [{"id": "read", "module": "source.file",'
    ' "config": {"path": "in.csv"}}], "edges": [], "params": {"x": %(bad)s}}'
)
ROUTE_BODIES = {
    ("POST", "/validate"): '{"pipeline": ' + PIPE + "}",
    ("POST", "/pipelines"): '{"pipeline": ' + PIPE + "}",
    ("POST", "/pipelines/import"): PIPE,
    ("PUT", "/pipelines/orders"): '{"pipeline": ' + PIPE + ', "expected_etag": "%(etag)s"}',
    ("POST", "/pipelines/orders/duplicate"): '{"new_id": "orders_copy", "name": "copy", "x": %(bad)s}',
    ("POST", "/pipelines/orders/restore"): '{"version": %(bad)s, "expected_etag": "%(etag)s"}',
    ("POST", "/pipelines/orders/runs"): '{"conf": {"x": %(bad)s}}',
    ("POST", "/pipelines/orders/dismissed-suggestions"): '{"id": "s1", "x": %(bad)s}',
    ("POST", "/suggest"): '{"pipeline": ' + PIPE + ', "node_id": "read"}',
    ("POST", "/suggest/check"): '{"pipeline": ' + PIPE + ', "node_id": "read", "suggestion": {}}',
    ("POST", "/describe"): '{"pipeline": ' + PIPE + ', "node_id": "read", "text": "keep rows"}',
    ("POST", "/preview"): '{"pipeline": ' + PIPE + ', "node_id": "read", "limit": 10}',
}
# Any route added later still gets a body with the literal in several places.
FALLBACK_BODY = (
    '{"pipeline": ' + PIPE + ', "expected_etag": null, "version": %(bad)s, "node_id": "read", "text": "x",'
    ' "conf": {"x": %(bad)s}, "limit": %(bad)s}'
)
BAD_LITERALS = {
    "NaN": ("NaN", "NaN"),
    "Infinity": ("Infinity", "Infinity"),
    "-Infinity": ("-Infinity", "-Infinity"),
    "4300-digit integer": ("9" * 4300, "4300 digits"),
    "41-digit integer": ("-" + "1" * 41, "41 digits"),
    "float overflow": ("1e400", "infinite"),
    "100,000 deep": ("[" * 100_000 + "]" * 100_000, "deeper than 64 levels"),
}


def test_routes_found() -> None:
    assert ("POST", "/pipelines") in ROUTES and ("PUT", "/pipelines/orders") in ROUTES
    assert ("POST", "/preview") in ROUTES and ("POST", "/validate") in ROUTES
    assert len(ROUTES) >= 10


@pytest.mark.parametrize("literal", sorted(BAD_LITERALS))
def test_every_body_route_answers_422_for_json_over_the_limits(admin: Api, store: Any, literal: str) -> None:
    etag = store.save(pipeline(), expected_etag=None).etag
    bad, words = BAD_LITERALS[literal]
    for method, path in ROUTES:
        content = (ROUTE_BODIES.get((method, path), FALLBACK_BODY) % {"bad": bad, "etag": etag}).encode()
        response = admin(method, path, content=content, headers={"Content-Type": "application/json"})
        body = assert_error_shape(response, 422)
        assert words in body["detail"], (method, path, body["detail"][:300])
        assert body["errors"][0]["path"] == ""
        assert "line 1 column" in body["errors"][0]["message"]
    # Nothing was written by any of them.
    assert [h.version for h in store.history("orders")] == [1]
    assert [r.id for r in store.iter_raw()] == ["orders"]


def test_deep_body_in_chunks_and_with_a_json_suffix_type(admin: Api, store: Any) -> None:
    def chunks() -> Any:
        yield b'{"pipeline": '
        for _ in range(100):
            yield b"[" * 1000
        yield b"]" * 100_000 + b"}"

    response = admin("POST", "/pipelines", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error_shape(response, 422)
    response = admin(
        "POST",
        "/validate",
        content=b'{"pipeline": {"x": NaN}}',
        headers={"Content-Type": "application/vnd.logidata+json; charset=utf-8"},
    )
    assert_error_shape(response, 422)  # any +json type is decoded by FastAPI, so it is checked too


def test_malformed_json_stays_400(admin: Api, store: Any) -> None:
    for method, path in ROUTES:
        response = admin(method, path, content=b'{"pipeline": ', headers={"Content-Type": "application/json"})
        body = assert_error_shape(response, 400)
        assert "malformed JSON" in body["detail"], (method, path, body["detail"])
    response = admin(
        "POST", "/pipelines", content=b'{"pipeline": "\xff"}', headers={"Content-Type": "application/json"}
    )
    body = assert_error_shape(response, 400)
    assert "not UTF-8 text" in body["detail"]


def test_good_bodies_still_work(admin: Api, store: Any) -> None:
    """The middleware hands the buffered body on intact (also a large one, checked in a thread)."""
    big = pipeline(status="draft", description="é" * 200_000)  # drafts skip validation (20,000 chars)
    response = admin("POST", "/pipelines", json={"pipeline": big})
    assert response.status_code == 201, response.text
    assert response.json()["pipeline"]["description"] == big["description"]
    etag = response.json()["etag"]
    response = admin("PUT", "/pipelines/orders", json={"pipeline": pipeline(), "expected_etag": etag})
    assert response.status_code == 200, response.text
    response = admin("POST", "/validate", json={"pipeline": pipeline(params={"n": 10**39})})
    assert response.status_code == 200, response.text


def test_save_over_the_size_limit_is_413(admin: Api, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_PIPELINE_BYTES", "8192")
    response = admin("POST", "/pipelines", json={"pipeline": pipeline(description="x" * 10_000)})
    body = assert_error_shape(response, 413)
    assert "8,192 bytes" in body["detail"] and "[logidata] max_pipeline_bytes" in body["detail"]
    assert body["errors"][0]["message"] == body["detail"]
    assert list(store.iter_raw()) == []

    created = admin("POST", "/pipelines", json={"pipeline": pipeline()})
    assert created.status_code == 201
    response = admin(
        "PUT",
        "/pipelines/orders",
        json={"pipeline": pipeline(description="x" * 10_000), "expected_etag": created.json()["etag"]},
    )
    assert_error_shape(response, 413)
    response = admin("POST", "/pipelines/import", json=pipeline("other", description="x" * 10_000))
    assert_error_shape(response, 413)
    assert [r.id for r in store.iter_raw()] == ["orders"]


def test_versions_are_pruned_through_the_api(admin: Api, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_VERSIONS", "3")
    etag = admin("POST", "/pipelines", json={"pipeline": pipeline()}).json()["etag"]
    for number in range(2, 8):
        response = admin(
            "PUT",
            "/pipelines/orders",
            json={"pipeline": pipeline(description=str(number)), "expected_etag": etag},
        )
        assert response.status_code == 200, response.text
        etag = response.json()["etag"]
    history = admin("GET", "/pipelines/orders/history").json()["versions"]
    assert [v["version"] for v in history] == [7, 6, 5]
    assert_error_shape(admin("GET", "/pipelines/orders/versions/1"), 404)
    assert admin("GET", "/pipelines/orders/versions/5").json()["pipeline"]["description"] == "5"


BROKEN_FILES: dict[str, bytes] = {
    "bad_utf8": b'{"id": "bad_utf8", "name": "\xff"}',
    "bad_json": b'{"id": "bad_json", ',
    "huge_int": b'{"id": "huge_int", "retries": ' + b"9" * 4300 + b"}",
    "deep": b'{"id": "deep", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nan": b'{"id": "nan", "status": "draft", "params": {"x": NaN}}',
    "array": b'[{"id": "array"}]',
    "surrogate": b'{"id": "surrogate", "status": "draft", "name": "\\ud800"}',
    "huge_file": b'{"id": "huge_file", "description": "' + b"x" * 400_000 + b'"}',
}


def test_list_shows_good_pipelines_next_to_each_broken_file(
    admin: Api, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_PIPELINE_BYTES", str(256 * 1024))
    assert admin("POST", "/pipelines", json={"pipeline": pipeline("good_a")}).status_code == 201
    assert admin("POST", "/pipelines", json={"pipeline": pipeline("good_z")}).status_code == 201
    root = Path(store.root)
    for pid, content in BROKEN_FILES.items():
        (root / f"{pid}.json").write_bytes(content)

    response = admin("GET", "/pipelines")
    assert response.status_code == 200, response.text
    listed = {p["id"]: p for p in response.json()["pipelines"]}
    assert sorted(listed) == sorted(["good_a", "good_z", *BROKEN_FILES])
    assert listed["good_a"]["valid"] is True and listed["good_z"]["valid"] is True
    for pid in BROKEN_FILES:
        assert listed[pid]["valid"] is False, pid
        assert listed[pid]["error"], pid
    assert "deeper than 64" in listed["deep"]["error"]
    assert "4300 digits" in listed["huge_int"]["error"]
    assert "max_pipeline_bytes" in listed["huge_file"]["error"]

    for pid in BROKEN_FILES:
        # Opens as an empty draft with the reason (so it can be repaired), never a 500.
        response = admin("GET", f"/pipelines/{pid}")
        assert response.status_code == 200, (pid, response.text[:300])
        opened = response.json()
        assert opened["errors"] and opened["etag"], pid
        for path in (f"/pipelines/{pid}/history", f"/pipelines/{pid}/export"):
            response = admin("GET", path)
            assert response.status_code < 500, (path, response.text[:300])
            if response.status_code >= 400:
                assert_error_shape(response, response.status_code)
        # Saving a good version with the etag shown replaces the broken file.
        response = admin(
            "PUT", f"/pipelines/{pid}", json={"pipeline": pipeline(pid), "expected_etag": opened["etag"]}
        )
        assert response.status_code == 200, (pid, response.text[:300])
    listed = {p["id"]: p for p in admin("GET", "/pipelines").json()["pipelines"]}
    assert all(p["valid"] for p in listed.values())
