"""A fake Airflow home for the path-policy tests, and a guard that no S3 client is ever built.

The policy decides from ``AIRFLOW_HOME`` and the ``[logidata]`` settings, so its tests lay out a home
like a real one (config, DAGs, logs, a data folder, a link out of it) and point the environment at it,
without any of the calling session's Airflow settings. Used by the policy's own tests
(``tests/unit/security``) and by the API that lists what it allows (``tests/unit/api/test_locations.py``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

_RESET = ("AIRFLOW__LOGIDATA__", "AIRFLOW__CORE__", "AIRFLOW__DATABASE__", "AIRFLOW__LOGGING__")


def fake_airflow_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, allowed_paths: str | None = None
) -> Path:
    """``tmp_path/airflow`` laid out like a real home, the environment pointing at it; ``allowed_paths``:
    ``[logidata] allowed_paths`` (None: the default policy). Beside it, ``tmp_path/outside/secret.csv``."""
    from airflow_provider_logidata.security import paths

    home = tmp_path / "airflow"
    data = home / "logidata" / "data"
    for folder in (
        home / "dags",
        home / "plugins",
        home / "logs",
        data / "in",
        home / "logidata" / "staging",
    ):
        folder.mkdir(parents=True)
    (home / "airflow.cfg").write_text("[core]\nfernet_key = secret\n")
    (home / "dags" / "loader.py").write_text("# dag\n")
    (data / "in" / "orders.csv").write_text("a\n1\n")
    (data / "link_to_cfg").symlink_to(home / "airflow.cfg")
    (data / "link_to_dags").symlink_to(home / "dags")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    for key in list(os.environ):
        if key.startswith(_RESET):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.delenv("AIRFLOW_CONFIG", raising=False)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(home / "dags"))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(home / "logidata" / "staging"))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PIPELINES_PATH", str(home / "logidata" / "pipelines"))
    if allowed_paths is not None:
        monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", allowed_paths)
    paths._cache.clear()
    return home


def refuse_s3_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to build an S3 client records the attempt and fails (a unit-test guard around our code);
    the list returned holds what was attempted."""
    import boto3.session
    import botocore.session
    import s3fs

    built: list[str] = []

    def refuse(name: str) -> Any:
        def constructor(*args: Any, **kwargs: Any) -> None:
            built.append(name)
            raise AssertionError(f"{name} was built")

        return constructor

    monkeypatch.setattr(botocore.session.Session, "__init__", refuse("botocore session"))
    monkeypatch.setattr(boto3.session.Session, "__init__", refuse("boto3 session"))
    monkeypatch.setattr(s3fs.S3FileSystem, "__init__", refuse("s3fs filesystem"))
    return built
