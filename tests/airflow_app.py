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
