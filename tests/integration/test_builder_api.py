"""The builder API inside Airflow's real api-server app, with real SimpleAuthManager tokens.

Airflow's full FastAPI app (``airflow.api_fastapi.app.create_app``: auth manager, plugins, the LogiData
plugin mounted at ``/logidata``) runs in-process behind Starlette's TestClient against the session's
migrated metadata DB. Tokens for admin, user and viewer come from the real ``POST /auth/token``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import (
    API,
    Api,
    airflow_test_client,
    api_store,
    assert_error_shape,
    issue_tokens,
    sync_dags_folder,
)

pytestmark = pytest.mark.integration

# Reads a viewer may do although they are POSTs (everything else that changes something is a write).
READ_ONLY_POSTS = {"/validate"}
# Paths the pipelines name (never read here): inside the tests' allowed folders (tests/conftest.py).
DATA = str(Path(tempfile.gettempdir()) / "logidata-builder-api")


@pytest.fixture(scope="module")
def airflow_client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with airflow_test_client(tmp_path_factory.mktemp("builder-api"), "builder-api") as client:
        yield client


@pytest.fixture(scope="module")
def tokens(airflow_client: Any) -> dict[str, str]:
    return issue_tokens(airflow_client)


@pytest.fixture
def store(airflow_client: Any, tmp_path: Path) -> Any:
    """A fresh pipeline store for one test, installed as the API's store."""
    with api_store(tmp_path / "pipelines") as store:
        yield store


@pytest.fixture
def admin(airflow_client: Any, tokens: dict[str, str]) -> Api:
    return Api(airflow_client, tokens["admin"])


@pytest.fixture
def user(airflow_client: Any, tokens: dict[str, str]) -> Api:
    return Api(airflow_client, tokens["user"])


@pytest.fixture
def viewer(airflow_client: Any, tokens: dict[str, str]) -> Api:
    return Api(airflow_client, tokens["viewer"])


@pytest.fixture
def anonymous(airflow_client: Any) -> Api:
    return Api(airflow_client, None)


def pipeline(pid: str = "orders", *, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": pid,
        "name": f"Pipeline {pid}",
        "status": status,
        "tags": ["t"],
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": f"{DATA}/in.csv", "format": "csv"}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 0"}},
            {"id": "write", "module": "destination.file", "config": {"path": f"{DATA}/out.parquet"}},
        ],
        "edges": [{"source": "read", "target": "keep"}, {"source": "keep", "target": "write"}],
        **extra,
    }


# ---------------------------------------------------------------------------------------------- plugin


def test_plugins_endpoint_lists_logidata_with_its_views(admin: Api, airflow_client: Any) -> None:
    response = airflow_client.get("/api/v2/plugins", headers=admin.headers)
    assert response.status_code == 200, response.text
    plugins = {p["name"]: p for p in response.json()["plugins"]}
    assert "logidata" in plugins, "an invalid external view hides the whole plugin"
    views = {v["destination"]: v for v in plugins["logidata"]["external_views"]}
    assert views["nav"]["href"] == "/logidata/ui/"
    assert views["nav"]["url_route"] == "logidata"
    assert "{DAG_ID}" in views["dag"]["href"]
    assert views["dag"]["href"].startswith("/logidata/ui/#/pipelines/")
    assert plugins["logidata"]["fastapi_apps"][0]["url_prefix"] == "/logidata"


def test_icon_and_ui_need_no_auth(anonymous: Api, airflow_client: Any) -> None:
    assert airflow_client.get("/logidata/icon.svg").headers["content-type"].startswith("image/svg+xml")
    response = airflow_client.get("/logidata/ui/", headers={"Accept": "text/html"})
    # Either the built bundle or the clear "not built" page, never an auth error.
    assert response.status_code in (200, 503)
    if response.status_code == 503:
        assert "UI bundle not built: run make ui" in response.text


# ---------------------------------------------------------------------------------------------- auth


def _api_routes() -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute

    from airflow_provider_logidata.api.app import get_app

    routes = []
    for route in get_app().state.api.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, route.path))
    return routes


def _concrete(path: str) -> str:
    return path.replace("{pipeline_id}", "orders").replace("{version}", "1")


def test_route_list_is_complete() -> None:
    routes = _api_routes()
    assert len(routes) >= 17
    assert ("GET", "/pipelines/{pipeline_id}/runs") in routes


@pytest.mark.parametrize(("method", "path"), _api_routes())
def test_every_route_refuses_anonymous(anonymous: Api, store: Any, method: str, path: str) -> None:
    kwargs = {} if method in ("GET", "DELETE") else {"json": {}}
    body = assert_error_shape(anonymous(method, _concrete(path), **kwargs), 401)
    assert "log in" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in _api_routes() if m != "GET" and p not in READ_ONLY_POSTS],
)
def test_every_write_route_refuses_the_viewer(viewer: Api, store: Any, method: str, path: str) -> None:
    store.save(pipeline("orders"), expected_etag=None)
    kwargs = {} if method == "DELETE" else {"json": {}}
    assert_error_shape(viewer(method, _concrete(path), **kwargs), 403)
    assert store.current_etag("orders") is not None  # nothing was deleted


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in _api_routes() if "{pipeline_id}" in p])
def test_every_route_refuses_an_invalid_pipeline_id(user: Api, store: Any, method: str, path: str) -> None:
    """The id rule the OpenAPI document publishes (pattern) is a 400 naming it on every route."""
    kwargs = {} if method in ("GET", "DELETE") else {"json": {}}
    body = assert_error_shape(
        user(method, path.replace("{pipeline_id}", "-bad").replace("{version}", "1"), **kwargs), 400
    )
    assert "invalid pipeline id" in body["detail"]
    assert body["errors"][0]["path"] == "id"


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_connections_need_connection_read(request: pytest.FixtureRequest, role: str) -> None:
    """Like Airflow's GET /api/v2/connections: a User (who may edit pipelines) and a Viewer get 403."""
    api: Api = request.getfixturevalue(role)
    body = assert_error_shape(api("GET", "/connections"), 403)
    assert "connection read permission" in body["detail"]
    assert api.client.get("/api/v2/connections", headers=api.headers).status_code == 403


def test_cookie_auth_like_the_browser(airflow_client: Any, tokens: dict[str, str], store: Any) -> None:
    airflow_client.cookies.clear()
    response = airflow_client.get(f"{API}/me", cookies={"_token": tokens["viewer"]})
    airflow_client.cookies.clear()
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "viewer", "can_edit": False, "can_run": False, "llm": False}


@pytest.mark.parametrize(
    ("role", "can_edit", "can_run"), [("admin", True, True), ("user", True, True), ("viewer", False, False)]
)
def test_me(request: pytest.FixtureRequest, role: str, can_edit: bool, can_run: bool) -> None:
    api: Api = request.getfixturevalue(role)
    expected = {"username": role, "can_edit": can_edit, "can_run": can_run, "llm": False}
    assert api("GET", "/me").json() == expected


def test_viewer_reads(viewer: Api, store: Any) -> None:
    store.save(pipeline("orders"), expected_etag=None)
    assert viewer("GET", "/pipelines").status_code == 200
    assert viewer("GET", "/pipelines/orders").status_code == 200
    assert viewer("GET", "/modules").status_code == 200
    assert viewer("POST", "/validate", json={"pipeline": pipeline("x")}).json()["valid"] is True


# ---------------------------------------------------------------------------------------------- CRUD


def test_pipeline_lifecycle(user: Api, store: Any) -> None:
    created = user("POST", "/pipelines", json={"pipeline": pipeline("orders")})
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["version"] == 1 and stored["errors"] == [] and stored["pipeline"]["id"] == "orders"

    listed = user("GET", "/pipelines").json()["pipelines"]
    assert [(p["id"], p["node_count"], p["valid"], p["tags"]) for p in listed] == [("orders", 3, True, ["t"])]
    assert listed[0]["last_run"] is None

    changed = pipeline("orders", description="v2")
    updated = user("PUT", "/pipelines/orders", json={"pipeline": changed, "expected_etag": stored["etag"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    history = user("GET", "/pipelines/orders/history").json()["versions"]
    assert [v["version"] for v in history] == [2, 1]
    assert history[0]["author"] == "user"
    old = user("GET", "/pipelines/orders/versions/1").json()
    assert old["version"] == 1 and "description" not in old["pipeline"]

    restored = user(
        "POST", "/pipelines/orders/restore", json={"version": 1, "expected_etag": updated.json()["etag"]}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3

    export = user("GET", "/pipelines/orders/export")
    assert export.headers["content-disposition"] == 'attachment; filename="orders.json"'
    assert export.json()["id"] == "orders"

    dup = user("POST", "/pipelines/orders/duplicate", json={"new_id": "orders_copy"})
    assert dup.status_code == 201, dup.text
    assert dup.json()["pipeline"]["status"] == "draft"
    assert dup.json()["pipeline"]["name"] == "Pipeline orders (copy)"

    deleted = user("DELETE", f"/pipelines/orders?expected_etag={restored.json()['etag']}")
    assert deleted.status_code == 204
    assert_error_shape(user("GET", "/pipelines/orders"), 404)
    back = user("POST", "/pipelines/orders/restore", json={"version": 3, "expected_etag": None})
    assert back.status_code == 200, back.text

    imported = user("POST", "/pipelines/import", json=pipeline("imported"))
    assert imported.status_code == 201, imported.text
    assert {p["id"] for p in user("GET", "/pipelines").json()["pipelines"]} == {
        "orders",
        "orders_copy",
        "imported",
    }


def test_history_messages_diff_and_trash(user: Api, viewer: Api, store: Any) -> None:
    """What the builder's History panel reads: messages, a diff ignoring moves, deleted pipelines."""
    first = user("POST", "/pipelines", json={"pipeline": pipeline("orders"), "message": "first cut"}).json()
    moved = pipeline("orders", schedule="@daily")
    moved["nodes"][1]["position"] = {"x": 500, "y": 20}
    moved["nodes"][1]["config"]["condition"] = "amount > 10"
    second = user(
        "PUT",
        "/pipelines/orders",
        json={"pipeline": moved, "expected_etag": first["etag"], "message": "stricter"},
    ).json()
    history = user("GET", "/pipelines/orders/history").json()["versions"]
    assert [(v["version"], v["message"], v["author"]) for v in history] == [
        (2, "stricter", "user"),
        (1, "first cut", "user"),
    ]
    too_long = user(
        "PUT", "/pipelines/orders", json={"pipeline": moved, "expected_etag": "x", "message": "m" * 501}
    )
    assert_error_shape(too_long, 422)

    diff = user("GET", "/pipelines/orders/diff?from_version=1").json()
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    assert [c["text"] for c in diff["changes"]] == [
        '~ pipeline schedule: null → "@daily"',
        '~ node keep: config.condition: "amount > 0" → "amount > 10"',
    ]
    assert diff["changes"][1] | {"text": ""} == {
        "kind": "node",
        "action": "changed",
        "node": "keep",
        "field": "config.condition",
        "before": "amount > 0",
        "after": "amount > 10",
        "edge": None,
        "module": "filter_rows",
        "text": "",
    }
    assert viewer("GET", "/pipelines/orders/diff?from_version=2&to_version=1").status_code == 200
    body = assert_error_shape(user("GET", "/pipelines/orders/diff?from_version=9"), 404)
    assert "no version 9" in body["detail"]

    assert user("GET", "/trash").json() == {"pipelines": []}
    assert user("DELETE", f"/pipelines/orders?expected_etag={second['etag']}").status_code == 204
    trash = user("GET", "/trash").json()["pipelines"]
    assert [(t["id"], t["name"], t["last_version"]) for t in trash] == [("orders", "Pipeline orders", 2)]
    assert trash[0]["deleted_at"]
    assert viewer("GET", "/trash").json()["pipelines"][0]["id"] == "orders"
    back = user(
        "POST", "/pipelines/orders/restore", json={"version": 2, "expected_etag": None, "message": "oops"}
    )
    assert back.status_code == 200, back.text
    assert (
        user("GET", "/pipelines/orders/history").json()["versions"][0]["message"]
        == "restored version 2: oops"
    )
    assert user("GET", "/trash").json() == {"pipelines": []}


def test_stale_etag_returns_both_versions(user: Api, store: Any) -> None:
    first = user("POST", "/pipelines", json={"pipeline": pipeline("orders")}).json()
    user(
        "PUT",
        "/pipelines/orders",
        json={"pipeline": pipeline("orders", name="theirs"), "expected_etag": first["etag"]},
    )
    mine = pipeline("orders", name="mine")
    body = assert_error_shape(
        user("PUT", "/pipelines/orders", json={"pipeline": mine, "expected_etag": first["etag"]}), 409
    )
    assert body["current"]["pipeline"]["name"] == "theirs"
    assert body["current"]["version"] == 2
    assert body["yours"]["name"] == "mine"


def test_invalid_active_is_refused_but_draft_saves(user: Api, store: Any) -> None:
    bad = pipeline("orders")
    bad["nodes"][1]["config"] = {"condition": "amount > 0", "colour": "red"}
    body = assert_error_shape(user("POST", "/pipelines", json={"pipeline": bad}), 422)
    assert body["errors"][0]["path"] == "nodes[1].config.colour"
    assert body["errors"][0]["node_id"] == "keep"
    assert store.current_etag("orders") is None

    draft = user("POST", "/pipelines", json={"pipeline": {**bad, "status": "draft"}})
    assert draft.status_code == 201, draft.text
    assert draft.json()["errors"][0]["node_id"] == "keep"


def test_unknown_module_still_loads_with_errors(user: Api, store: Any) -> None:
    """A stored pipeline using a module that no longer exists (hand-written file): a broken node."""
    data = pipeline("legacy")
    data["nodes"][1]["module"] = "transform.removed_long_ago"
    (Path(store.root) / "legacy.json").write_text(json.dumps(data))
    response = user("GET", "/pipelines/legacy")
    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    assert any(e["path"] == "nodes[1].module" and e["node_id"] == "keep" for e in errors)
    summary = user("GET", "/pipelines").json()["pipelines"][0]
    assert summary["valid"] is False and "unknown module" in summary["error"]


def test_broken_file_still_loads(user: Api, store: Any) -> None:
    (Path(store.root) / "broken.json").write_text("{not json")
    response = user("GET", "/pipelines/broken")
    assert response.status_code == 200, response.text
    assert response.json()["pipeline"]["id"] == "broken"
    assert response.json()["errors"]


def _big_body() -> bytes:
    return json.dumps({"pipeline": pipeline("big", description="x" * (2 * 1024 * 1024))}).encode()


def _chunks() -> Any:
    chunk = b" " * 65536
    yield b'{"pipeline": '
    for _ in range(40):  # 2.5 MiB of whitespace: valid JSON, no Content-Length
        yield chunk
    yield json.dumps(pipeline("big")).encode() + b"}"


BAD_INPUT = [
    (
        "malformed JSON",
        "POST",
        "/pipelines",
        {"content": b'{"pipeline": ', "headers": {"Content-Type": "application/json"}},
        400,
        "malformed JSON",
    ),
    ("unknown id", "GET", "/pipelines/nope", {}, 404, "not found"),
    ("unknown id history", "GET", "/pipelines/nope/history", {}, 404, "not found"),
    ("unknown version", "GET", "/pipelines/orders/versions/99", {}, 404, "no version 99"),
    ("traversal", "GET", "/pipelines/..%2Fetc", {}, 404, ""),
    ("invalid id", "GET", "/pipelines/-bad", {}, 400, "invalid pipeline id"),
    (
        "restore unknown version",
        "POST",
        "/pipelines/orders/restore",
        {"json": {"version": 42, "expected_etag": None}},
        404,
        "no version 42",
    ),
    (
        "extra field",
        "POST",
        "/pipelines",
        {"json": {"pipeline": pipeline("x"), "force": True}},
        422,
        "unknown field 'force'",
    ),
    (
        "missing field",
        "PUT",
        "/pipelines/orders",
        {"json": {"pipeline": pipeline("orders")}},
        422,
        "expected_etag",
    ),
    ("not an object", "POST", "/pipelines", {"json": {"pipeline": [1, 2]}}, 422, "pipeline"),
    (
        "id mismatch",
        "PUT",
        "/pipelines/orders",
        {"json": {"pipeline": pipeline("other"), "expected_etag": "x"}},
        422,
        "does not match",
    ),
    (
        "bad id in body",
        "POST",
        "/pipelines",
        {"json": {"pipeline": pipeline("../evil", status="draft")}},
        422,
        "id",
    ),
    ("exists", "POST", "/pipelines", {"json": {"pipeline": pipeline("orders")}}, 409, "already exists"),
    ("import exists", "POST", "/pipelines/import", {"json": pipeline("orders")}, 409, "already exists"),
    ("stale delete", "DELETE", "/pipelines/orders?expected_etag=0000", {}, 409, "changed since"),
    (
        "oversize (Content-Length)",
        "POST",
        "/pipelines",
        {"content": _big_body(), "headers": {"Content-Type": "application/json"}},
        413,
        "2 MiB",
    ),
    (
        "oversize (streamed)",
        "POST",
        "/pipelines",
        {"content": _chunks(), "headers": {"Content-Type": "application/json"}},
        413,
        "2 MiB",
    ),
    (
        "unknown module",
        "POST",
        "/pipelines",
        {"json": {"pipeline": pipeline("m", nodes=[{"id": "a", "module": "nope"}], edges=[])}},
        422,
        "invalid",
    ),
    (
        "form post without JSON (CSRF)",
        "POST",
        "/pipelines/orders/runs",
        {"content": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        422,
        "body",
    ),
    (
        "text/plain body (CSRF)",
        "POST",
        "/pipelines",
        {
            "content": json.dumps({"pipeline": pipeline("csrf")}).encode(),
            "headers": {"Content-Type": "text/plain"},
        },
        422,
        "pipeline",
    ),
    ("run a draft", "POST", "/pipelines/drafty/runs", {"json": {}}, 409, "draft"),
    ("run an unparsed DAG", "POST", "/pipelines/orders/runs", {"json": {}}, 409, "not parsed"),
    ("bad limit", "GET", "/pipelines/orders/runs?limit=0", {}, 422, "limit"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "needle"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input(
    user: Api, store: Any, method: str, path: str, kwargs: dict[str, Any], status: int, needle: str
) -> None:
    store.save(pipeline("orders"), expected_etag=None)
    store.save(pipeline("drafty", status="draft"), expected_etag=None)
    body = assert_error_shape(user(method, path, **kwargs), status)
    assert needle in json.dumps(body)


def test_validate_lists_every_problem(user: Api, store: Any) -> None:
    data = pipeline("v")
    data["nodes"][1]["config"] = {}
    data["edges"].append({"source": "write", "target": "ghost"})
    result = user("POST", "/validate", json={"pipeline": data}).json()
    assert result["valid"] is False
    paths = {e["path"] for e in result["errors"]}
    assert {"nodes[1].config.condition", "edges[2].target"} <= paths


def test_module_palette_has_widget_hints(viewer: Api) -> None:
    modules = {m["name"]: m for m in viewer("GET", "/modules").json()["modules"]}
    assert {"source.file", "filter_rows", "destination.file", "join"} <= set(modules)
    file_props = modules["source.file"]["config_schema"]["properties"]
    assert file_props["conn_id"]["x-logidata-widget"] == "connection"
    assert file_props["conn_id"]["x-logidata-conn-types"] == ["aws"]
    assert file_props["columns"]["x-logidata-widget"] == "columns"
    assert modules["join"]["input_ports"] == ["left", "right"]
    assert modules["source.file"]["docs"].startswith(modules["source.file"]["description"])


def test_connections_never_expose_secrets(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUILDER_PG", "postgres://scott:tiger-secret@db.example:5432/sales")
    response = admin("GET", "/connections")
    assert response.status_code == 200, response.text
    conns = {c["conn_id"]: c for c in response.json()["connections"]}
    assert conns["builder_pg"] == {"conn_id": "builder_pg", "conn_type": "postgres", "description": None}
    assert "tiger-secret" not in response.text and "db.example" not in response.text


def test_openapi_document_is_served(anonymous: Api) -> None:
    response = anonymous("GET", "/openapi.json")
    assert response.status_code == 200
    assert "Spec" in response.json()["components"]["schemas"]


# ---------------------------------------------------------------------------------------------- runs


def test_run_now_and_per_node_states(
    user: Api, viewer: Api, dags_folder: Path, tmp_path: Path, airflow_client: Any
) -> None:
    import datetime as dt
    import os

    import pyarrow.parquet as pq

    from airflow_provider_logidata.api.app import get_app
    from airflow_provider_logidata.dag_factory import load_pipelines
    from airflow_provider_logidata.store import PipelineStore

    root = Path(os.environ["AIRFLOW__LOGIDATA__PIPELINES_PATH"])  # the folder the DAG loader reads
    store = PipelineStore(root)
    get_app().state.api.state.store = store
    csv_path = tmp_path / "orders.csv"
    csv_path.write_text("id,amount\n1,5\n1,5\n2,-1\n3,7\n4,0\n")
    out = tmp_path / "out.parquet"
    # read -> [dedupe -> keep] -> write: the two transforms run fused in one task named "keep".
    spec = pipeline("builder_api_run", schedule=None, start_date="2024-01-01", fuse_chains=True)
    spec["nodes"][0]["config"]["path"] = str(csv_path)
    spec["nodes"][2]["config"]["path"] = str(out)
    spec["nodes"].insert(1, {"id": "dedupe", "module": "deduplicate", "config": {}})
    spec["edges"] = [
        {"source": "read", "target": "dedupe"},
        {"source": "dedupe", "target": "keep"},
        {"source": "keep", "target": "write"},
    ]
    try:
        assert user("POST", "/pipelines", json={"pipeline": spec}).status_code == 201
        assert user("GET", "/pipelines/builder_api_run/runs").json() == {"dag_found": False, "runs": []}

        sync_dags_folder()
        triggered = user("POST", "/pipelines/builder_api_run/runs", json={"conf": {}})
        assert triggered.status_code == 201, triggered.text
        created = triggered.json()
        assert created["dag_id"] == "builder_api_run" and created["state"] == "queued"
        assert created["unpaused"] is True  # new DAGs start paused; run now unpauses

        listed = viewer("GET", "/pipelines/builder_api_run/runs").json()
        assert listed["dag_found"] is True
        assert listed["runs"][0]["run_id"] == created["run_id"]
        assert listed["runs"][0]["nodes"]["read"]["state"] is None  # queued: nothing ran yet
        assert listed["runs"][0]["nodes"]["dedupe"]["task_id"] == "keep"

        # Execute it the way tests run DAGs (dag.test replaces the queued run of the same logical date).
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            logical_date = (
                session.query(DagRun.logical_date).filter(DagRun.run_id == created["run_id"]).scalar()
            )
        namespace: dict[str, Any] = {"__file__": str(dags_folder / "logidata_pipelines.py")}
        load_pipelines(namespace)
        dag = namespace["logidata_dag__builder_api_run"]
        dag_run = dag.test(logical_date=logical_date or dt.datetime.now(dt.timezone.utc))
        assert str(dag_run.state) == "success"
        assert pq.read_table(out).num_rows == 2

        runs = viewer("GET", "/pipelines/builder_api_run/runs?limit=5").json()["runs"]
        nodes = runs[0]["nodes"]
        assert runs[0]["state"] == "success"
        assert {n: (v["task_id"], v["state"]) for n, v in nodes.items()} == {
            "read": ("read", "success"),
            "dedupe": ("keep", "success"),
            "keep": ("keep", "success"),
            "write": ("write", "success"),
        }
        assert nodes["read"]["rows_out"] == 5
        # Inside the fused task, per-step counts come from the metrics XCom; the engine skips counting
        # between steps when that would compute a blocking step (deduplicate) twice.
        assert nodes["dedupe"]["rows_in"] == 5 and nodes["dedupe"]["rows_out"] in (4, None)
        assert nodes["keep"]["rows_in"] in (4, None) and nodes["keep"]["rows_out"] == 2
        assert nodes["write"]["rows_in"] == 2
        assert all(v["engine"] == "etl" for v in nodes.values())
        # From the logidata_metrics XCom (or, for runs without it, the task instance's duration).
        assert all(isinstance(v["seconds"], float) and v["seconds"] >= 0 for v in nodes.values())

        summary = user("GET", "/pipelines").json()["pipelines"]
        last = {p["id"]: p["last_run"] for p in summary}["builder_api_run"]
        assert last is not None and last["state"] == "success"
    finally:
        get_app().state.api.state.store = None
        for path in root.glob("builder_api_run.json"):
            path.unlink()
        for folder in (".history", ".trash", ".locks"):
            shutil.rmtree(root / folder / "builder_api_run", ignore_errors=True)
            (root / folder / "builder_api_run.lock").unlink(missing_ok=True)


# ------------------------------------------------------------------------------- design-time columns


def test_validate_knows_every_nodes_columns(user: Api, viewer: Api, store: Any, tmp_path: Path) -> None:
    """The builder's validation reads the source (in a preview worker), binds each node on empty inputs
    and answers every node's columns; a wrong column is an error on its field, in plain words."""
    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,amount,status\n1,2.5,paid\n")
    data = pipeline("cols")
    data["nodes"][0]["config"]["path"] = str(csv)
    result = user("POST", "/validate", json={"pipeline": data}).json()
    assert result["valid"] is True, result
    assert [(c["name"], c["type"]) for c in result["schemas"]["keep"]["ports"]["out"]] == [
        ("order_id", "BIGINT"),
        ("amount", "DOUBLE"),
        ("status", "VARCHAR"),
    ]
    assert result["schemas"]["keep"]["lineage"]["out"]["amount"][0]["node_id"] == "read"

    data["nodes"][1]["config"]["condition"] = "amout > 0"
    result = user("POST", "/validate", json={"pipeline": data}).json()
    [error] = result["errors"]
    assert (error["node_id"], error["field"], error["severity"]) == ("keep", "condition", "error")
    assert "did you mean 'amount'" in error["message"] and "nodes[" not in error["message"]
    assert result["schemas"]["keep"]["status"] == "error"

    # A viewer may validate but not read sources through the workers: structure only, columns unknown.
    seen = viewer("POST", "/validate", json={"pipeline": data}).json()
    assert seen["valid"] is True and seen["schemas"]["keep"]["status"] == "unknown"

    # "Active" means runnable: the same error refuses an active save, a draft saves.
    body = assert_error_shape(user("POST", "/pipelines", json={"pipeline": data}), 422)
    assert [(e["node_id"], e["field"]) for e in body["errors"]] == [("keep", "condition")]
    assert store.current_etag("cols") is None
    draft = user("POST", "/pipelines", json={"pipeline": {**data, "status": "draft"}})
    assert draft.status_code == 201, draft.text
    data["nodes"][1]["config"]["condition"] = "amount > 0"
    saved = user("PUT", "/pipelines/cols", json={"pipeline": data, "expected_etag": draft.json()["etag"]})
    assert saved.status_code == 200, saved.text
