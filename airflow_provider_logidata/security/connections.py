"""Connections a pipeline names: they must exist, have the expected type and, for object storage, carry
credentials of their own.

A pipeline editor may use the connections an admin created, by id, but nothing more: not a connection of
another type (an HTTP source pointed at the database connection would send its password to the database
host), and never the server's own cloud identity. The amazon provider's hooks quietly fall back to an
empty connection, and then to botocore's ambient chain (environment variables, shared files, the instance
metadata service), when a connection id does not exist or holds no keys; on a cloud host that would let
an editor read any bucket the host's role can. So object storage is reached only through an ``aws``
connection that exists and names its keys, checked here before any client is built, unless an admin
allows ambient credentials (``[logidata] allow_ambient_cloud_credentials``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from airflow_provider_logidata import settings
from airflow_provider_logidata.security.errors import PolicyError

# A task or preview resolves the same connection many times (every staged file it opens); the answer is
# kept this long so a changed connection takes effect quickly without a lookup per file.
CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()
# Extra keys through which an aws connection carries keys of its own.
_KEY_EXTRAS = ("aws_access_key_id",)


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def lookup(conn_id: str) -> Any:
    """The Airflow connection ``conn_id`` (Task SDK lookup: workers, previews and the API alike)."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(conn_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as error:
        if "NotFound" in type(error).__name__ or "isn't defined" in str(error):
            raise PolicyError(
                f"Airflow connection {conn_id!r} does not exist; an admin creates connections (Admin > "
                "Connections), a pipeline only names one",
                rule="connection-missing",
            ) from None
        raise
    with _lock:
        _cache[conn_id] = (now, connection)
    return connection


def check_type(conn_id: str, expected: str) -> Any:
    """The connection, refused when its type is not ``expected`` (``postgres``, ``http``, ``aws``)."""
    connection = lookup(conn_id)
    actual = str(getattr(connection, "conn_type", "") or "")
    if actual.replace("-", "_") != expected.replace("-", "_"):
        raise PolicyError(
            f"Airflow connection {conn_id!r} is of type {actual or '(none)'!r}, not {expected!r}; pick a "
            f"connection of type {expected}",
            rule="connection-type",
        )
    return connection


def has_own_keys(connection: Any) -> bool:
    """Whether an aws connection names an access key pair (login/password or the extra's keys)."""
    if getattr(connection, "login", None) and getattr(connection, "password", None):
        return True
    extra = getattr(connection, "extra_dejson", None) or {}
    return all(extra.get(key) for key in _KEY_EXTRAS) and bool(extra.get("aws_secret_access_key"))


def check_storage(conn_id: str | None, uri: str) -> None:
    """Refuse object storage reached without an explicit ``aws`` connection holding its own keys."""
    if not conn_id:
        raise PolicyError(
            f"path {uri!r} names no Airflow connection: write s3://conn_id@bucket/key or set conn_id. "
            "LogiData never uses the server's own cloud identity (environment or instance credentials)",
            rule="storage-connection",
        )
    connection = check_type(conn_id, "aws")
    if has_own_keys(connection) or settings.allow_ambient_cloud_credentials():
        return
    raise PolicyError(
        f"Airflow connection {conn_id!r} holds no access key, so the server's own cloud identity would be "
        f"used for {uri!r}; put the key pair in the connection (login / password), or an admin sets "
        "[logidata] allow_ambient_cloud_credentials = True to allow that deliberately",
        rule="storage-ambient-credentials",
        setting="allow_ambient_cloud_credentials",
    )
