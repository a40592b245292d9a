"""The path policy: which files and object-storage keys a pipeline may read and write.

Every path a pipeline names (a file source, a file destination, a preview of either) passes
:func:`check_read` or :func:`check_write` before anything is opened, in previews and runs alike, and
again for each file a glob expands to. Local paths are compared after resolving symlinks and ``..``, so
``/data/../etc/passwd`` and a symlink out of the data folder are refused like ``/etc/passwd``.

Allowed: ``[logidata] allowed_paths`` (local roots and object-storage URI prefixes; default: the data
folder ``$AIRFLOW_HOME/logidata/data`` and the staging path). Never allowed, even under an allowed
parent, because reading them yields Airflow's secrets or writing them runs code: the DAGs and plugins
folders, Airflow's config, auth and database files, its logs, the pipeline store and factory report
(writing there would bypass the store's permission checks), ``/proc``, ``/sys``, ``/etc``, ``/dev`` and
``/run``. The staging path is readable but written only by LogiData itself.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from dataclasses import dataclass
from typing import Literal

from airflow_provider_logidata import settings
from airflow_provider_logidata.security.errors import PolicyError

Access = Literal["read", "write"]

SETTING = "[logidata] allowed_paths"
# Local locations never allowed, whatever allowed_paths says.
SYSTEM_LOCATIONS = ("/proc", "/sys", "/etc", "/dev", "/run", "/var/run", "/boot")
# Files in AIRFLOW_HOME that hold secrets or code (besides those the config names).
HOME_SECRET_FILES = (
    "airflow.cfg",
    "unittests.cfg",
    "webserver_config.py",
    "simple_auth_manager_passwords.json.generated",
    "standalone_admin_password.txt",
    "airflow.db",
)
OBJECT_SCHEMES = ("s3", "s3a")
_LOCAL_SCHEMES = ("file", "local")


@dataclass(frozen=True)
class StorageUri:
    """An object-storage URI split into its parts (``s3://conn_id@bucket/key``)."""

    scheme: str
    conn_id: str | None
    bucket: str
    key: str

    @property
    def text(self) -> str:
        conn = f"{self.conn_id}@" if self.conn_id else ""
        return f"{self.scheme}://{conn}{self.bucket}/{self.key}"


def split_uri(uri: str) -> StorageUri | None:
    """The parts of an object-storage URI, or ``None`` for a local path (``file://`` included)."""
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme.lower() in _LOCAL_SCHEMES:
        return None
    netloc, _, key = rest.partition("/")
    conn_id, at, bucket = netloc.rpartition("@")
    return StorageUri(scheme=scheme.lower(), conn_id=conn_id if at else None, bucket=bucket, key=key)


def local_path(uri: str) -> str | None:
    """The local path a path or ``file://`` URI names (``~`` expanded, absolute), or ``None``."""
    scheme, separator, rest = uri.partition("://")
    if separator:
        if scheme.lower() not in _LOCAL_SCHEMES:
            return None
        uri = rest
    return os.path.abspath(os.path.expanduser(uri))


def _real(path: str) -> str:
    return os.path.realpath(path)


def _within(path: str, root: str) -> bool:
    root = root.rstrip(os.sep) or os.sep
    return path == root or path.startswith(root if root == os.sep else root + os.sep)


def _conf(section: str, option: str) -> str:
    return settings.airflow_option(section, option) or ""


def _sqlite_file(url: str) -> str | None:
    if not url.startswith("sqlite:"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return path.split("?", 1)[0] or None


# Validation checks every path of every pipeline at each DAG parse: the locations (config lookups and a
# realpath each) are computed once per this many seconds and per environment.
_CACHE_SECONDS = 10.0
_cache: dict[tuple[object, ...], tuple[float, list[tuple[str, str]]]] = {}


# The environment variables the locations depend on (besides airflow.cfg, covered by the time limit).
_KEY_VARIABLES = (
    "AIRFLOW_HOME",
    "AIRFLOW_CONFIG",
    "HOME",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__LOGIDATA__PIPELINES_PATH",
    "AIRFLOW__LOGIDATA__REPORT_PATH",
    "AIRFLOW__LOGIDATA__STAGING_PATH",
    "AIRFLOW__LOGIDATA__ALLOWED_PATHS",
)


def _cache_key() -> tuple[object, ...]:
    """The values of ``_KEY_VARIABLES``. Read from the environment's own dict where CPython has one
    (``os.environ._data``, updated by every ``os.environ`` change): a parse checks thousands of paths, and
    going through ``os.environ.get`` (encoding each name and value) cost more than the checks."""
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and _ENCODED_KEYS is not None:
        return tuple(map(data.get, _ENCODED_KEYS))
    return tuple(os.environ.get(name) for name in _KEY_VARIABLES)


# The names of ``_KEY_VARIABLES`` as ``os.environ._data`` holds them (``None`` off CPython's ``_Environ``).
_ENCODED_KEYS = tuple(map(os.environ.encodekey, _KEY_VARIABLES)) if hasattr(os.environ, "encodekey") else None


def forbidden_locations(key: tuple[object, ...] | None = None) -> list[tuple[str, str]]:
    """``(real path, why)`` of every local location no pipeline may read or write (cached briefly)."""
    key = _cache_key() if key is None else key
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    found = _forbidden_locations()
    _cache.clear()
    _cache[key] = (now, found)
    return found


def _forbidden_locations() -> list[tuple[str, str]]:
    home = str(settings.airflow_home())
    found: list[tuple[str, str]] = [(location, "a system folder") for location in SYSTEM_LOCATIONS]
    dags = settings.dags_folder() or os.path.join(home, "dags")
    found.append((dags, "Airflow's DAGs folder (files there are executed)"))
    for plugins in {_conf("core", "plugins_folder"), os.path.join(home, "plugins")} - {""}:
        found.append((plugins, "Airflow's plugins folder (files there are executed)"))
    config_file = os.environ.get("AIRFLOW_CONFIG") or os.path.join(home, "airflow.cfg")
    found.append((config_file, "Airflow's configuration (it holds secrets)"))
    for name in HOME_SECRET_FILES:
        found.append((os.path.join(home, name), "an Airflow configuration, auth or database file"))
    passwords = _conf("core", "simple_auth_manager_passwords_file")
    if passwords:
        found.append((passwords, "the auth manager's password file"))
    database = _sqlite_file(_conf("database", "sql_alchemy_conn"))
    if database:
        found.append((database, "Airflow's metadata database"))
    for logs in {_conf("logging", "base_log_folder"), os.path.join(home, "logs")} - {""}:
        found.append((logs, "Airflow's logs"))
    for option, why in (
        ("pipelines_path", "the pipeline store (change pipelines through the builder or CLI)"),
        ("report_path", "the DAG factory's report"),
    ):
        value = getattr(settings, option)()
        path = local_path(value)
        if path is not None:
            found.append((path, why))
    return [(_real(os.path.abspath(os.path.expanduser(path))), why) for path, why in found]


def _forbidden_hit(real: str, access: Access, key: tuple[object, ...]) -> tuple[str, str] | None:
    """The forbidden location ``real`` is in (or, for a write, contains), if any."""
    for location, why in forbidden_locations(key):
        if _within(real, location) or real.startswith(location + "-"):  # sqlite's -wal, -journal
            return location, why
        if access == "write" and _within(location, real):
            return location, why
    return None


def _refuse(uri: str, what: str, *, rule: str, roots: tuple[str, ...] | None = None) -> PolicyError:
    allowed = ", ".join(roots if roots is not None else settings.allowed_paths()) or "(none)"
    return PolicyError(
        f"path {uri!r} {what} (allowed: {allowed}); use a path under an allowed folder, or ask an Airflow "
        f"admin to add its folder to {SETTING}",
        rule=rule,
        setting="allowed_paths",
    )


_roots_cache: dict[tuple[object, ...], tuple[float, list[str]]] = {}


def _local_roots(key: tuple[object, ...]) -> list[str]:
    now = time.monotonic()
    cached = _roots_cache.get(key)
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    roots = [_real(path) for root in settings.allowed_paths() if (path := local_path(root)) is not None]
    _roots_cache.clear()
    _roots_cache[key] = (now, roots)
    return roots


def check_local(path: str, access: Access, *, shown: str | None = None) -> str:
    """The real path of a local ``path`` the policy allows for ``access``; ``PolicyError`` otherwise."""
    shown = shown or path
    absolute = local_path(path) or path
    real = _real(absolute)
    key = _cache_key()
    hit = _forbidden_hit(real, access, key)
    if hit is not None:
        location, why = hit
        detail = f" (resolves to {real!r})" if real != absolute else ""
        raise PolicyError(
            f"path {shown!r}{detail} is never allowed: {location} is {why}; no [logidata] setting allows it",
            rule="path-forbidden",
        )
    if access == "write":
        staging = local_path(settings.staging_path())
        if staging is not None and _within(real, _real(staging)):
            raise PolicyError(
                f"path {shown!r} is in the staging folder, which only LogiData writes; write to a data "
                "folder",
                rule="path-staging",
            )
    if not any(_within(real, root) for root in _local_roots(key)):
        detail = f" (it resolves to {real!r})" if real != absolute else ""
        raise _refuse(shown, f"is outside the allowed folders{detail}", rule="path-not-allowed")
    return real


def _uri_roots() -> list[StorageUri]:
    return [parts for root in settings.allowed_paths() if (parts := split_uri(root)) is not None]


def _key_within(key: str, prefix: str) -> bool:
    prefix = prefix.strip("/")
    return not prefix or key == prefix or key.startswith(prefix + "/")


def check_object(uri: str, access: Access) -> StorageUri:
    """Check an object-storage URI: a supported scheme, an explicit connection, an allowed prefix."""
    parts = split_uri(uri)
    if parts is None:
        raise ValueError(f"{uri!r} is a local path")
    if parts.scheme not in OBJECT_SCHEMES:
        raise PolicyError(
            f"path {uri!r}: storage {parts.scheme}:// is not supported; use a local path or "
            "s3://conn_id@bucket/key",
            rule="storage-scheme",
        )
    if not parts.conn_id:
        raise PolicyError(
            f"path {uri!r} names no Airflow connection: write s3://conn_id@bucket/key or set conn_id. "
            "LogiData never uses the server's own cloud identity (environment or instance credentials)",
            rule="storage-connection",
        )
    if not parts.bucket:
        raise PolicyError(f"path {uri!r} names no bucket", rule="storage-bucket")
    segments = parts.key.split("/")
    if any(segment in ("..", ".") for segment in segments) or any(ord(c) < 32 for c in parts.key):
        raise PolicyError(
            f"path {uri!r} has '.' or '..' segments or control characters; name the key directly",
            rule="path-traversal",
        )
    key = posixpath.normpath("/" + parts.key).lstrip("/") if parts.key else ""
    for location, why in _forbidden_objects():
        same_bucket = location.bucket == parts.bucket
        if same_bucket and (
            _key_within(key, location.key) or (access == "write" and _key_within(location.key, key))
        ):
            raise PolicyError(f"path {uri!r} is never allowed: it is {why}", rule="path-forbidden")
    if access == "write":
        staging = split_uri(settings.staging_path())
        if staging is not None and staging.bucket == parts.bucket and _key_within(key, staging.key):
            raise PolicyError(
                f"path {uri!r} is in the staging folder, which only LogiData writes; write to a data folder",
                rule="path-staging",
            )
    for root in _uri_roots():
        if root.scheme not in (parts.scheme, "s3" if parts.scheme == "s3a" else parts.scheme):
            continue
        if root.conn_id and root.conn_id != parts.conn_id:
            continue
        if root.bucket not in ("", "*", parts.bucket):
            continue
        if _key_within(key, root.key):
            return parts
    raise _refuse(uri, "is outside the allowed locations", rule="path-not-allowed")


def _forbidden_objects() -> list[tuple[StorageUri, str]]:
    found = []
    for option, why in (("pipelines_path", "the pipeline store"),):
        parts = split_uri(getattr(settings, option)())
        if parts is not None:
            found.append((parts, why))
    return found


_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


def check_path(uri: str, access: Access, *, shown: str | None = None) -> str:
    """Check a local path or object-storage URI for ``access``; returns the real local path or the URI.

    Raises :class:`PolicyError` naming the path, the rule and the setting to change.
    """
    if _CONTROL_CHARS.search(uri):
        raise PolicyError(
            f"path {uri!r} contains control characters; name the file with printable characters",
            rule="path-traversal",
        )
    if split_uri(uri) is None:
        return check_local(uri, access, shown=shown)
    check_object(uri, access)
    return uri


def check_read(uri: str, *, shown: str | None = None) -> str:
    return check_path(uri, "read", shown=shown)


def check_write(uri: str, *, shown: str | None = None) -> str:
    return check_path(uri, "write", shown=shown)


def static_prefix(text: str) -> str | None:
    """The part of a templated or globbed path known before rendering (up to its last ``/``), or the path.

    Validation checks this much; the rendered path is checked again when the task or preview runs.
    ``None`` when nothing is known (the path starts with a template).
    """
    cut = len(text)
    for marker in ("{{", "{%", "{#", "*", "?", "["):
        found = text.find(marker)
        if found != -1:
            cut = min(cut, found)
    if cut == len(text):
        return text
    head = text[:cut]
    slash = head.rfind("/")
    if slash <= 0:
        return None
    return head[: slash + 1]


def check_segment(name: str, what: str) -> str:
    """A name that becomes one folder or file name (a partition column): no separators, ``.``/``..``,
    leading dot, ``=`` or control characters, so what is written stays inside the target folder."""
    problems = []
    if not name or name in (".", ".."):
        problems.append("it is empty, '.' or '..'")
    if "/" in name or "\\" in name:
        problems.append("it contains a path separator")
    if name.startswith("."):
        problems.append("it starts with '.' (hidden folders are skipped by readers)")
    if "=" in name:
        problems.append("it contains '=' (Hive folders are column=value)")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        problems.append("it contains control characters")
    if len(name.encode()) > 200:
        problems.append("it is longer than 200 bytes")
    if problems:
        raise PolicyError(
            f"{what} {name!r} cannot name a folder: {'; '.join(problems)}; rename the column upstream "
            "(select_columns) before partitioning by it",
            rule="path-segment",
        )
    return name
