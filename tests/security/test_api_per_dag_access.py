"""Per-DAG access: the builder API asks the auth manager about the very DAG a request touches.

SimpleAuthManager has no per-DAG grants, so this module runs Airflow's full app with a small auth
manager that has them (``TeamAuthManager`` below, a SimpleAuthManager whose role ``user`` may edit only
DAGs whose id starts with ``team_a_``, may trigger ``team_b_*`` DAGs without editing them, and may read
only ``team_a_*`` connections). Every refusal is checked against the store, the DAG runs and the DAG
itself: nothing was written, run or unpaused.
"""

from __future__ import annotations

import os
import sys
import tempfile
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import API, airflow_test_client, api_store, issue_tokens, sync_dags_folder

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

MODULE = "logidata_tests_team_auth"


def _team_auth_manager() -> str:
    """Register the test auth manager as an importable module; its ``[core] auth_manager`` path."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    class TeamAuthManager(SimpleAuthManager):  # type: ignore[misc]
        """SimpleAuthManager plus per-DAG and per-connection grants for the role ``user``."""

        def is_authorized_dag(
            self, *, method: str, user: Any, access_entity: Any = None, details: Any = None
        ) -> bool:
            if str(user.role).lower() != "user" or method == "GET":
                return bool(
                    super().is_authorized_dag(
                        method=method, user=user, access_entity=access_entity, details=details
                    )
                )
            dag_id = details.id if details is not None else None
            if not dag_id:
                return False  # no grant on DAGs in general, only on some DAGs
            if dag_id.startswith("team_a_"):
                return True
            triggering = method == "POST" and access_entity is not None and access_entity.value == "RUN"
            return triggering and dag_id.startswith("team_b_")

        def is_authorized_connection(self, *, method: str, user: Any, details: Any = None) -> bool:
            if str(user.role).lower() != "user" or method != "GET":
                return bool(super().is_authorized_connection(method=method, user=user, details=details))
            conn_id = details.conn_id if details is not None else None
            return conn_id is None or conn_id.startswith("team_a_")

    module = sys.modules.get(MODULE) or types.ModuleType(MODULE)
    TeamAuthManager.__module__ = MODULE
    module.TeamAuthManager = TeamAuthManager  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    return f"{MODULE}.TeamAuthManager"


@pytest.fixture(scope="module")
def client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    env = {"AIRFLOW__CORE__AUTH_MANAGER": _team_auth_manager()}
    with airflow_test_client(tmp_path_factory.mktemp("per-dag"), "per-dag", env=env) as client:
        from airflow.api_fastapi.app import get_auth_manager

        assert type(get_auth_manager()).__name__ == "TeamAuthManager"
        yield client


@pytest.fixture(scope="module")
def tokens(client: Any) -> dict[str, str]:
    return issue_tokens(client)


@pytest.fixture
def store(client: Any, tmp_path: Path) -> Iterator[Any]:
    with api_store(tmp_path / "pipelines") as store:
        for pid in ("team_a_seed", "team_b_seed"):
            store.save(_draft(pid), expected_etag=None, author="admin")
            store.dismiss(pid, "dismissed-one")
        yield store


def _draft(pid: str, **extra: Any) -> dict[str, Any]:
    return {"spec_version": 1, "id": pid, "status": "draft", "nodes": [], "edges": [], **extra}


def _call(client: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    client.cookies.clear()
    kwargs = {} if body is None else {"json": body}
    return client.request(method, f"{API}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)


# (method, path, body, status for the user, the DAG id the refusal names)
SEED_ETAG = "<etag>"
USER_CASES: list[tuple[str, str, Any, int, str | None]] = [
    ("POST", "/pipelines", {"pipeline": _draft("team_a_new")}, 201, None),
    ("POST", "/pipelines", {"pipeline": _draft("team_b_new")}, 403, "team_b_new"),
    ("POST", "/pipelines", {}, 403, None),  # no id: edit on DAGs in general, which the user lacks
    ("POST", "/pipelines/import", _draft("team_a_imported"), 201, None),
    ("POST", "/pipelines/import", _draft("team_b_imported"), 403, "team_b_imported"),
    (
        "PUT",
        "/pipelines/team_a_seed",
        {"pipeline": _draft("team_a_seed"), "expected_etag": SEED_ETAG},
        200,
        None,
    ),
    (
        "PUT",
        "/pipelines/team_b_seed",
        {"pipeline": _draft("team_b_seed"), "expected_etag": SEED_ETAG},
        403,
        "team_b_seed",
    ),
    ("DELETE", "/pipelines/team_b_seed", None, 403, "team_b_seed"),
    ("POST", "/pipelines/team_a_seed/duplicate", {"new_id": "team_a_copy"}, 201, None),
    ("POST", "/pipelines/team_a_seed/duplicate", {"new_id": "team_b_copy"}, 403, "team_b_copy"),
    # Reading team_b is allowed; the copy is checked on its own id.
    ("POST", "/pipelines/team_b_seed/duplicate", {"new_id": "team_a_from_b"}, 201, None),
    (
        "POST",
        "/pipelines/team_b_seed/restore",
        {"version": 1, "expected_etag": SEED_ETAG},
        403,
        "team_b_seed",
    ),
    ("POST", "/pipelines/team_b_seed/dismissed-suggestions", {"id": "another"}, 403, "team_b_seed"),
    ("DELETE", "/pipelines/team_b_seed/dismissed-suggestions/dismissed-one", None, 403, "team_b_seed"),
    ("POST", "/preview", {"pipeline": _draft("team_b_seed"), "node_id": "n"}, 403, "team_b_seed"),
    ("POST", "/preview", {"pipeline": _draft("team_a_seed"), "node_id": "n"}, 404, None),  # past the check
    ("POST", "/suggest", {"pipeline": _draft("team_b_seed"), "node_id": "n"}, 403, "team_b_seed"),
    (
        "POST",
        "/describe",
        {"pipeline": _draft("team_b_seed"), "node_id": "n", "text": "x"},
        403,
        "team_b_seed",
    ),
    # Trigger: team_b may be triggered without edit permission (past the check: not parsed = 409).
    ("POST", "/pipelines/team_b_seed/runs", {}, 409, None),
    ("POST", "/pipelines/team_c_other/runs", {}, 403, "team_c_other"),
    ("GET", "/pipelines/team_b_seed", None, 200, None),
    ("GET", "/pipelines/team_b_seed/dismissed-suggestions", None, 200, None),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "named"),
    USER_CASES,
    ids=[f"{m} {p} {status}" for m, p, _, status, _ in USER_CASES],
)
def test_user_may_change_only_the_dags_they_may_edit(
    client: Any,
    tokens: dict[str, str],
    store: Any,
    method: str,
    path: str,
    body: Any,
    status: int,
    named: str | None,
) -> None:
    if isinstance(body, dict) and body.get("expected_etag") == SEED_ETAG:
        body = {**body, "expected_etag": store.current_etag(path.split("/")[2])}
    before = {pid: store.current_etag(pid) for pid in ("team_a_seed", "team_b_seed")}
    response = _call(client, tokens["user"], method, path, body)
    assert response.status_code == status, response.text
    if status == 403:
        detail = response.json()["detail"]
        assert detail.startswith("Forbidden: your Airflow role may not"), detail
        if named:
            assert repr(named) in detail, detail
        # Nothing written, deleted or dismissed.
        assert {pid: store.current_etag(pid) for pid in before} == before
        assert store.dismissed("team_b_seed") == ["dismissed-one"]
        created = (
            body.get("new_id") or (body.get("pipeline") or body).get("id") if isinstance(body, dict) else None
        )
        if isinstance(created, str) and created not in before:
            assert store.current_etag(created) is None


def test_admin_may_change_any_dag(client: Any, tokens: dict[str, str], store: Any) -> None:
    admin = tokens["admin"]
    assert _call(client, admin, "POST", "/pipelines", {"pipeline": _draft("team_b_new")}).status_code == 201
    etag = store.current_etag("team_b_seed")
    assert _call(client, admin, "DELETE", f"/pipelines/team_b_seed?expected_etag={etag}").status_code == 204


# (role, pipeline_id or None for /me without it, can_edit, can_run)
ME_CASES: list[tuple[str, str | None, bool, bool]] = [
    ("user", "team_a_seed", True, True),
    ("user", "team_b_seed", False, True),  # may trigger team_b_*, not edit it
    ("user", "team_c_other", False, False),
    ("user", "team_a_not_saved_yet", True, True),  # the grant is on the dag_id, stored or not
    ("user", None, False, False),  # DAGs in general: the user has grants on some DAGs only
    ("admin", "team_b_seed", True, True),
    ("admin", None, True, True),
    ("viewer", "team_a_seed", False, False),
    ("viewer", None, False, False),
]


@pytest.mark.parametrize(
    ("role", "pipeline_id", "can_edit", "can_run"),
    ME_CASES,
    ids=[f"{role} {pid or '(general)'}" for role, pid, _, _ in ME_CASES],
)
def test_me_answers_for_the_pipeline_asked_about(
    client: Any, tokens: dict[str, str], role: str, pipeline_id: str | None, can_edit: bool, can_run: bool
) -> None:
    """``GET /me?pipeline_id=`` is the auth manager's per-DAG answer; without it, DAGs in general."""
    query = "" if pipeline_id is None else f"?pipeline_id={pipeline_id}"
    response = _call(client, tokens[role], "GET", f"/me{query}")
    assert response.status_code == 200, response.text
    me = response.json()
    assert set(me) == {"username", "can_edit", "can_run", "llm"}
    assert (me["username"], me["can_edit"], me["can_run"]) == (role, can_edit, can_run)


@pytest.mark.parametrize("pipeline_id", ["team_a_seed", "team_b_seed", "team_c_other"])
def test_me_agrees_with_what_the_routes_accept(
    client: Any, tokens: dict[str, str], store: Any, pipeline_id: str
) -> None:
    """The editor's read-only mode and Run now follow /me: it must say yes exactly where the routes do."""
    user = tokens["user"]
    me = _call(client, user, "GET", f"/me?pipeline_id={pipeline_id}").json()
    # Edit-gated and cheap (no new version); past the check it is 200, or 404 for a pipeline not stored.
    edit = _call(client, user, "POST", f"/pipelines/{pipeline_id}/dismissed-suggestions", {"id": "x"})
    # Past the check: 409 (not parsed: none of these has a DAG), so nothing is run.
    run = _call(client, user, "POST", f"/pipelines/{pipeline_id}/runs", {"unpause": False})
    assert edit.status_code in (200, 403, 404), edit.text
    assert run.status_code in (403, 409), run.text
    assert me["can_edit"] is (edit.status_code != 403)
    assert me["can_run"] is (run.status_code != 403)


@pytest.mark.parametrize("pipeline_id", ["-bad", ".hidden", "", "a%2Fb", "a%20b", "x" * 201])
def test_me_refuses_a_malformed_pipeline_id(client: Any, tokens: dict[str, str], pipeline_id: str) -> None:
    """The id rule of the path parameters, with the API's 400 error shape (not FastAPI's 422)."""
    response = _call(client, tokens["user"], "GET", f"/me?pipeline_id={pipeline_id}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert "pipeline id" in body["detail"], body
    assert [issue["path"] for issue in body["errors"]] == ["id"]


def test_me_checks_the_login_before_the_id(client: Any) -> None:
    client.cookies.clear()
    assert client.get(f"{API}/me?pipeline_id=-bad").status_code == 401
    assert client.get(f"{API}/me?pipeline_id=team_a_seed").status_code == 401


def test_me_documents_pipeline_id_like_the_path_ids(client: Any) -> None:
    """The query parameter publishes the same rule as ``{pipeline_id}`` in the paths, and the 400."""
    document = client.get(f"{API}/openapi.json").json()
    operation = document["paths"]["/me"]["get"]
    (query,) = operation["parameters"]
    path_param = next(
        p for p in document["paths"]["/pipelines/{pipeline_id}"]["get"]["parameters"] if p["in"] == "path"
    )
    assert (query["name"], query["in"], query["required"]) == ("pipeline_id", "query", False)
    for key in ("type", "pattern", "minLength", "maxLength"):
        assert query["schema"][key] == path_param["schema"][key], key
    assert "400" in operation["responses"]
    assert document["components"]["schemas"]["Me"]["required"] == ["username", "can_edit", "can_run", "llm"]


def test_connections_are_filtered_per_connection(
    client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Airflow's own list: only the connections the auth manager lets the user read (DB and env)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.setenv("AIRFLOW_CONN_TEAM_A_ENV", "postgres://u:secret-a@db.example/a")
    monkeypatch.setenv("AIRFLOW_CONN_TEAM_B_ENV", "postgres://u:secret-b@db.example/b")
    ids = ("team_a_db", "team_b_db")
    with create_session() as session:
        for conn_id in ids:
            session.add(Connection(conn_id=conn_id, conn_type="postgres", host="db.example", password="pw"))
    try:
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {tokens['user']}"}
        core = client.get("/api/v2/connections", headers=headers)
        ours = client.get(f"{API}/connections", headers=headers)
        assert core.status_code == ours.status_code == 200, ours.text
        listed = {c["conn_id"] for c in ours.json()["connections"]}
        core_ids = {c["connection_id"] for c in core.json()["connections"]}
        assert core_ids & set(ids) == {"team_a_db"}
        assert listed == {"team_a_db", "team_a_env"}
        assert "secret" not in ours.text and "team_b" not in ours.text
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id.in_(ids)).delete(synchronize_session=False)


def test_triggering_a_paused_dag_does_not_unpause_without_edit_permission(
    client: Any, tokens: dict[str, str], dags_folder: Path
) -> None:
    """team_b_* may be triggered by the user, not edited: unpausing (Airflow's pause toggle is a DAG
    edit) is refused with a 403 that says how to queue the run anyway, and the DAG stays paused."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_provider_logidata.store import PipelineStore

    pid = "team_b_paused_run"
    data_dir = Path(tempfile.gettempdir()) / "logidata-per-dag"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "in.csv").write_text("id\n1\n")
    root = Path(os.environ["AIRFLOW__LOGIDATA__PIPELINES_PATH"])  # the folder the DAG loader reads
    spec = {
        "spec_version": 1,
        "id": pid,
        "schedule": None,
        "start_date": "2024-01-01",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(data_dir / "in.csv")}},
            {"id": "write", "module": "destination.file", "config": {"path": str(data_dir / "out.parquet")}},
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    PipelineStore(root).save(spec, expected_etag=None, author="admin")
    try:
        sync_dags_folder()
        with create_session() as session:
            assert session.get(DagModel, pid).is_paused  # new DAGs start paused
        user = tokens["user"]
        refused = _call(client, user, "POST", f"/pipelines/{pid}/runs", {})
        assert refused.status_code == 403, refused.text
        assert "unpause: false" in refused.json()["detail"]
        with create_session() as session:
            assert session.query(DagRun).filter(DagRun.dag_id == pid).count() == 0
            assert session.get(DagModel, pid).is_paused

        queued = _call(client, user, "POST", f"/pipelines/{pid}/runs", {"unpause": False})
        assert queued.status_code == 201, queued.text
        assert queued.json()["unpaused"] is False
        with create_session() as session:
            assert session.query(DagRun).filter(DagRun.dag_id == pid).count() == 1
            assert session.get(DagModel, pid).is_paused
    finally:
        (root / f"{pid}.json").unlink(missing_ok=True)
        delete_dag(pid)
