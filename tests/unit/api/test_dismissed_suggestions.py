"""Dismissed suggestions through Airflow's real app: stored per pipeline, shared by users, merged by /suggest.

Airflow's FastAPI app (SimpleAuthManager tokens from the real ``POST /auth/token``, the LogiData plugin at
``/logidata``) runs in-process behind Starlette's TestClient (tests/airflow_app.py). The /suggest test
samples a real CSV through the preview worker pool (one real worker process).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from airflow_app import API, airflow_test_client, api_store, assert_error_shape, issue_tokens

pytestmark = pytest.mark.integration

ROUTES = [
    ("GET", "/pipelines/orders/dismissed-suggestions"),
    ("POST", "/pipelines/orders/dismissed-suggestions"),
    ("DELETE", "/pipelines/orders/dismissed-suggestions/exact_duplicates"),
]


@pytest.fixture(scope="module")
def client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = {"AIRFLOW__LOGIDATA__PREVIEW_WORKERS": "1", "AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT": "60"}
    with airflow_test_client(tmp_path_factory.mktemp("dismissed-api"), "dismissed", settings) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def headers(client: Any) -> dict[str, dict[str, str]]:
    return {name: {"Authorization": f"Bearer {token}"} for name, token in issue_tokens(client).items()}


@pytest.fixture
def store(client: Any, tmp_path: Path) -> Any:
    """A fresh pipeline store for one test, installed as the API's store."""
    with api_store(tmp_path / "pipelines") as store:
        yield store


def call(client: Any, auth: dict[str, str] | None, method: str, path: str, **kwargs: Any) -> Any:
    client.cookies.clear()
    headers = {**(auth or {}), **kwargs.pop("headers", {})}
    return client.request(method, f"{API}{path}", headers=headers, **kwargs)


def write_orders(path: Path) -> Path:
    """100 orders, every fifth city padded with spaces, then 10 exact copies of rows."""
    rows = [
        {"order_id": i, "city": "  Paris " if i % 5 == 0 else "Lyon", "amount": 10 + i % 40}
        for i in range(100)
    ]
    rows += [dict(r) for r in rows[:10]]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def pipeline(pid: str = "orders", data: str = "/data/in.csv") -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": pid,
        "name": f"Pipeline {pid}",
        "status": "draft",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": data, "format": "csv"}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "amount >= 0"}},
        ],
        "edges": [{"source": "read", "target": "keep"}],
    }


def test_dismiss_list_restore_shared_by_users(client: Any, headers: Any, store: Any) -> None:
    saved = store.save(pipeline(), expected_etag=None)
    path = "/pipelines/orders/dismissed-suggestions"
    assert call(client, headers["viewer"], "GET", path).json() == {"ids": []}

    first = call(client, headers["user"], "POST", path, json={"id": "exact_duplicates"})
    assert first.status_code == 200, first.text
    assert first.json() == {"ids": ["exact_duplicates"]}
    odd = "padded_text:a/b,c d:0123456789"  # column names may hold '/', spaces and ':'
    assert call(client, headers["admin"], "POST", path, json={"id": odd}).json() == {
        "ids": ["exact_duplicates", odd]
    }
    # Every user (and so every browser) sees the same list.
    for role in ("viewer", "user", "admin"):
        assert call(client, headers[role], "GET", path).json() == {"ids": ["exact_duplicates", odd]}

    # Not a pipeline change: same etag and version, no new history entry.
    got = call(client, headers["user"], "GET", "/pipelines/orders").json()
    assert (got["etag"], got["version"]) == (saved.etag, 1)
    assert len(call(client, headers["user"], "GET", "/pipelines/orders/history").json()["versions"]) == 1

    restored = call(client, headers["user"], "DELETE", f"{path}/{quote(odd, safe='')}")
    assert restored.status_code == 200, restored.text
    assert restored.json() == {"ids": ["exact_duplicates"]}
    again = call(client, headers["user"], "DELETE", f"{path}/{quote(odd, safe='')}")
    assert again.json() == {"ids": ["exact_duplicates"]}, "restoring twice is fine"

    # Deleting the pipeline drops its dismissals; the routes then answer 404.
    assert call(client, headers["user"], "DELETE", "/pipelines/orders").status_code == 204
    assert_error_shape(call(client, headers["user"], "GET", path), 404)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_is_refused(client: Any, store: Any, method: str, path: str) -> None:
    store.save(pipeline(), expected_etag=None)
    kwargs = {"json": {"id": "x"}} if method == "POST" else {}
    body = assert_error_shape(call(client, None, method, path, **kwargs), 401)
    assert "log in" in body["detail"]


@pytest.mark.parametrize(("method", "path"), ROUTES[1:])
def test_viewer_may_not_change_them(client: Any, headers: Any, store: Any, method: str, path: str) -> None:
    store.save(pipeline(), expected_etag=None)
    store.dismiss("orders", "exact_duplicates")
    kwargs = {"json": {"id": "x"}} if method == "POST" else {}
    assert_error_shape(call(client, headers["viewer"], method, path, **kwargs), 403)
    assert store.dismissed("orders") == ["exact_duplicates"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_unknown_pipeline_is_404(client: Any, headers: Any, store: Any, method: str, path: str) -> None:
    kwargs = {"json": {"id": "x"}} if method == "POST" else {}
    body = assert_error_shape(call(client, headers["user"], method, path, **kwargs), 404)
    assert "'orders'" in body["detail"] and "not found" in body["detail"]


def test_bad_requests(client: Any, headers: Any, store: Any) -> None:
    store.save(pipeline(), expected_etag=None)
    path = "/pipelines/orders/dismissed-suggestions"
    missing = assert_error_shape(call(client, headers["user"], "POST", path, json={}), 422)
    assert (
        missing["errors"][0]["path"] == "id"
        and missing["errors"][0]["message"] == "required field is missing"
    )
    extra = assert_error_shape(call(client, headers["user"], "POST", path, json={"id": "a", "why": "x"}), 422)
    assert any(e["message"] == "unknown field 'why'" for e in extra["errors"])
    assert_error_shape(call(client, headers["user"], "POST", path, json={"id": ""}), 422)
    assert_error_shape(call(client, headers["user"], "POST", path, json={"id": "x" * 1001}), 422)
    assert_error_shape(call(client, headers["user"], "DELETE", f"{path}/{'x' * 1001}"), 422)
    malformed = call(
        client, headers["user"], "POST", path, content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error_shape(malformed, 400)
    bad_id = assert_error_shape(
        call(client, headers["user"], "GET", "/pipelines/-bad/dismissed-suggestions"), 400
    )
    assert bad_id["errors"][0]["path"] == "id"
    assert store.dismissed("orders") == []


def test_suggest_leaves_out_stored_and_requested_dismissals(
    client: Any, headers: Any, store: Any, tmp_path: Path
) -> None:
    spec = pipeline(data=str(write_orders(tmp_path / "orders.csv")))
    body = {"pipeline": spec, "node_id": "keep"}

    # Unsaved: no stored dismissals to merge, the request's list still works.
    unsaved = call(client, headers["user"], "POST", "/suggest", json=body)
    assert unsaved.status_code == 200, unsaved.text
    ids = {s["rule"]: s["id"] for s in unsaved.json()["suggestions"]}
    assert {"exact_duplicates", "padded_text"} <= set(ids), ids
    request_only = call(
        client, headers["user"], "POST", "/suggest", json={**body, "dismissed": [ids["padded_text"]]}
    )
    assert ids["padded_text"] not in {s["id"] for s in request_only.json()["suggestions"]}

    # Saved, one dismissed on the server by another user: every client gets it left out.
    store.save(spec, expected_etag=None)
    dismissed = call(
        client,
        headers["admin"],
        "POST",
        "/pipelines/orders/dismissed-suggestions",
        json={"id": ids["exact_duplicates"]},
    )
    assert dismissed.status_code == 200, dismissed.text
    stored_only = call(client, headers["user"], "POST", "/suggest", json=body).json()
    shown = {s["id"] for s in stored_only["suggestions"]}
    assert ids["exact_duplicates"] not in shown and ids["padded_text"] in shown
    both = call(
        client, headers["user"], "POST", "/suggest", json={**body, "dismissed": [ids["padded_text"]]}
    ).json()
    shown = {s["id"] for s in both["suggestions"]}
    assert not shown & {ids["exact_duplicates"], ids["padded_text"]}
