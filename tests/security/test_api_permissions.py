"""Builder API permissions as Airflow grants them (issue 10, item 8), with SimpleAuthManager's roles.

Airflow's full app runs in-process with real tokens from ``POST /auth/token``; every decision is
compared with what Airflow's own core API answers the same account or the same token:

- ``GET /connections`` needs connection read permission, like ``GET /api/v2/connections`` (a Viewer or
  a User gets 403 and no connection id; Op and Admin get the list, never a secret);
- starting a run needs DAG-run create permission (a User may trigger, a Viewer may not);
- forged or invalid tokens (bad signature, expired, wrong audience, ``alg: none``, garbage, empty
  Bearer, a garbage ``_token`` cookie) get the status Airflow's core API answers, nothing else.

Per-DAG decisions (an auth manager with per-DAG grants) are in test_api_per_dag_access.py.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import API, airflow_test_client, api_store, issue_tokens

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

LABEL = "permissions"
# Users named after their SimpleAuthManager role.
PASSWORDS = {"admin": "admin-pw", "op": "op-pw", "user": "user-pw", "viewer": "viewer-pw"}
SECRET_URI = "postgres://scott:tiger-secret@db.example:5432/sales"


@pytest.fixture(scope="module")
def client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with airflow_test_client(tmp_path_factory.mktemp(LABEL), LABEL, passwords=PASSWORDS) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(client: Any) -> dict[str, str]:
    return issue_tokens(client, PASSWORDS)


@pytest.fixture
def store(client: Any, tmp_path: Path) -> Iterator[Any]:
    with api_store(tmp_path / "pipelines") as store:
        yield store


def _get(client: Any, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    client.cookies.clear()
    try:
        return client.get(path, headers=headers or {}, **kwargs)
    finally:
        client.cookies.clear()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "errors"} and isinstance(body["detail"], str), body
    return dict(body)


# ---------------------------------------------------------------------------------------------- connections


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("op", 200), ("user", 403), ("viewer", 403)])
def test_connections_need_connection_read_like_airflow(
    client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, role: str, status: int
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PERMS_PG", SECRET_URI)
    core = _get(client, "/api/v2/connections", _bearer(tokens[role]))
    ours = _get(client, f"{API}/connections", _bearer(tokens[role]))
    assert (ours.status_code, core.status_code) == (status, status), ours.text
    if status == 403:
        body = _assert_error(ours, 403)
        assert "connection read permission" in body["detail"]
        assert "perms_pg" not in ours.text  # refused before anything was listed
        return
    listed = {c["conn_id"]: c for c in ours.json()["connections"]}
    assert listed["perms_pg"] == {"conn_id": "perms_pg", "conn_type": "postgres", "description": None}
    assert "tiger-secret" not in ours.text and "scott" not in ours.text and "db.example" not in ours.text


def test_viewer_still_reads_pipelines_and_modules(client: Any, tokens: dict[str, str], store: Any) -> None:
    """Only the connection list moved to connection permission; DAG readers keep the rest."""
    viewer = _bearer(tokens["viewer"])
    assert _get(client, f"{API}/modules", viewer).status_code == 200
    assert _get(client, f"{API}/pipelines", viewer).status_code == 200
    assert _get(client, f"{API}/me", viewer).json() == {
        "username": "viewer",
        "can_edit": False,
        "can_run": False,
        "llm": False,
    }


# ---------------------------------------------------------------------------------------------- runs


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("user", 409), ("op", 409), ("admin", 409)])
def test_starting_a_run_needs_dag_run_create(
    client: Any, tokens: dict[str, str], store: Any, role: str, status: int
) -> None:
    """A User may trigger DAGs (Airflow's DAG run create): past the permission check the unparsed DAG
    is the 409; a Viewer gets the 403 naming the permission, and no run is created."""
    client.cookies.clear()
    response = client.post(f"{API}/pipelines/perm_run/runs", json={}, headers=_bearer(tokens[role]))
    body = _assert_error(response, status)
    if status == 403:
        assert "DAG run create permission" in body["detail"]
    else:
        assert "cannot run" in body["detail"]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        assert session.query(DagRun).filter(DagRun.dag_id == "perm_run").count() == 0


# ---------------------------------------------------------------------------------------------- tokens


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forged(valid: str) -> dict[str, dict[str, Any]]:
    """Requests carrying broken credentials, built from a real admin token."""
    import jwt

    header = jwt.get_unverified_header(valid)
    claims = jwt.decode(valid, options={"verify_signature": False})
    secret = f"logidata-{LABEL}-tests-" + "0" * 64  # what airflow_test_client configures
    algorithm = header["alg"]
    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    now = int(time.time())

    def signed(changes: dict[str, Any], key: str = secret) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm=algorithm, headers=extra)

    unsigned = f"{_b64({**header, 'alg': 'none'})}.{_b64({**claims, 'role': 'admin'})}."
    return {
        "bad signature": {"headers": _bearer(signed({}, key="not-the-secret-" + "1" * 64))},
        "expired": {"headers": _bearer(signed({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}))},
        "wrong audience": {"headers": _bearer(signed({"aud": "someone-else"}))},
        "alg none": {"headers": _bearer(unsigned)},
        "tampered payload": {"headers": _bearer(".".join([valid.split(".")[0], _b64(claims), "x"]))},
        "garbage": {"headers": _bearer("garbage")},
        "empty bearer": {"headers": {"Authorization": "Bearer "}},
        "basic scheme": {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
        "garbage cookie": {"cookies": {"_token": "garbage"}},
        "forged cookie": {"cookies": {"_token": signed({}, key="not-the-secret-" + "2" * 64)}},
        "no credentials": {},
    }


FORGED = [
    "bad signature",
    "expired",
    "wrong audience",
    "alg none",
    "tampered payload",
    "garbage",
    "empty bearer",
    "basic scheme",
    "garbage cookie",
    "forged cookie",
    "no credentials",
]


@pytest.mark.parametrize("case", FORGED)
def test_invalid_tokens_get_what_airflow_answers(
    client: Any, tokens: dict[str, str], store: Any, case: str
) -> None:
    store.save({"spec_version": 1, "id": "perm_secret_plan", "status": "draft"}, expected_etag=None)
    request = _forged(tokens["admin"])[case]
    core = _get(client, "/api/v2/dags", request.get("headers"), cookies=request.get("cookies"))
    assert core.status_code in (401, 403), core.text
    for method, path, body in (
        ("GET", "/pipelines", None),
        ("GET", "/pipelines/perm_secret_plan", None),
        ("POST", "/pipelines", {"pipeline": {"spec_version": 1, "id": "perm_forged", "status": "draft"}}),
        ("DELETE", "/pipelines/perm_secret_plan", None),
    ):
        client.cookies.clear()
        response = client.request(
            method,
            f"{API}{path}",
            headers=request.get("headers") or {},
            cookies=request.get("cookies"),
            json=body,
        )
        client.cookies.clear()
        assert response.status_code == core.status_code, (method, path, response.text, core.text)
        _assert_error(response, core.status_code)
        assert "perm_secret_plan" not in response.text
    # Nothing was written or deleted with those credentials.
    assert store.current_etag("perm_forged") is None
    assert store.current_etag("perm_secret_plan") is not None


def test_the_real_token_works(client: Any, tokens: dict[str, str], store: Any) -> None:
    """The control case of the table above: the unmodified token is accepted by both APIs."""
    assert _get(client, "/api/v2/dags", _bearer(tokens["admin"])).status_code == 200
    assert _get(client, f"{API}/pipelines", _bearer(tokens["admin"])).status_code == 200
    assert _get(client, f"{API}/me", cookies={"_token": tokens["admin"]}).status_code == 200
