"""Airflow's full web app (auth manager, plugins, the LogiData builder mounted) behind a TestClient.

Shared by the builder, preview and suggestion API tests: users come from SimpleAuthManager and tokens from
the real ``POST /auth/token``. Entering the client runs the apps' lifespans (the builder's shares
Airflow's auth manager; preview workers start on the first preview in the test session).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

API = "/logidata/api"
PASSWORDS = {"admin": "admin-secret", "user": "user-secret", "viewer": "viewer-secret"}


@contextlib.contextmanager
def airflow_test_client(
    home: Path, label: str, env: Mapping[str, str] | None = None, passwords: Mapping[str, str] = PASSWORDS
) -> Iterator[Any]:
    """A TestClient on a fresh ``create_app()`` with ``passwords``' users; ``env`` adds settings."""
    from fastapi.testclient import TestClient

    file = home / "passwords.json"
    file.write_text(json.dumps(dict(passwords)))
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{name}:{name}" for name in passwords))
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(file))
    patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", f"logidata-{label}-tests-" + "0" * 64)
    for key, value in (env or {}).items():
        patch.setenv(key, value)
    from airflow.api_fastapi.app import create_app, purge_cached_app

    from airflow_provider_logidata.preview import service

    purge_cached_app()
    try:
        with TestClient(create_app(), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
            yield client
    finally:
        service.shutdown()
        purge_cached_app()
        patch.undo()


def issue_tokens(client: Any, passwords: Mapping[str, str] = PASSWORDS) -> dict[str, str]:
    """A bearer token per user, from Airflow's own token endpoint."""
    out = {}
    for name, password in passwords.items():
        response = client.post("/auth/token", json={"username": name, "password": password})
        assert response.status_code == 201, response.text
        out[name] = str(response.json()["access_token"])
    client.cookies.clear()
    return out


@contextlib.contextmanager
def api_store(root: Path) -> Iterator[Any]:
    """A pipeline store at ``root`` installed as the running API's store; the configured one again after."""
    from airflow_provider_logidata.api.app import get_app
    from airflow_provider_logidata.store import PipelineStore

    api_state = get_app().state.api.state
    store = PipelineStore(root)
    api_state.store = store
    try:
        yield store
    finally:
        api_state.store = None


def sync_dags_folder() -> None:
    """What the DAG processor does: parse the dags folder and write the DAGs to the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


class Api:
    """Requests to the builder API as one user (``token``; ``None``: anonymous), never with a cookie."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, f"{API}{path}", headers=headers, **kwargs)


def assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    """``response`` has ``status`` and the API's error shape ``{detail, errors: [{path, message, node_id}]}``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    for issue in body["errors"]:
        assert {"path", "message", "node_id"} <= set(issue)
    assert "Traceback" not in response.text
    return dict(body)
