"""Lazy access to the ``[logidata]`` config section.

Nothing here reads Airflow config at import time: the DAG processor imports this module on every parse,
and the CLI should work (with explicit paths) even where Airflow's config is slow to load.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

SECTION = "logidata"

_DEFAULTS: dict[str, str] = {
    "pipelines_path": "",
    "staging_path": "",
    "report_path": "",
    "keep_staging": "on_failure",
    "duckdb_memory_limit": "320MB",
    "duckdb_threads": "0",
    "batch_rows": "122880",
    "builder_url": "/dags/{pipeline_id}/plugin/logidata-pipeline",
    "python_modules": "",
    # Security policy (airflow_provider_logidata.security).
    "allowed_paths": "",
    "allow_ambient_cloud_credentials": "False",
    "max_versions": "100",
    "max_pipeline_bytes": "2097152",
    "source_statement_timeout": "3600",
    # Data preview in the builder (airflow_provider_logidata.preview).
    "preview_workers": "2",
    "preview_timeout": "10",
    "preview_memory_limit": "1GB",
    "preview_queue": "8",
    "preview_cache_entries": "64",
    "preview_prestart": "True",
}

KEEP_STAGING_CHOICES = ("never", "on_failure", "always")


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow").expanduser()


def airflow_option(section: str, option: str) -> str | None:
    """An Airflow option: its environment variable, else Airflow's config when Airflow is loaded (every
    Airflow process), else the option as written in ``airflow.cfg``; ``None`` when it is not set.

    The CLI validates pipelines (and the path policy needs Airflow's folders) without importing Airflow,
    which costs seconds: there the config file is read directly.
    """
    env = os.environ.get(f"AIRFLOW__{section.upper()}__{option.upper()}")
    if env is not None:
        return env
    configuration = sys.modules.get("airflow.configuration")
    if configuration is not None:
        try:
            value = configuration.conf.get(section, option, fallback=None)
        except Exception:  # a broken option reads as unset, as in the file
            return None
        return None if value is None else str(value)
    return _file_option(section, option)


_FILE_CACHE: dict[str, tuple[float, configparser.RawConfigParser]] = {}


def _file_option(section: str, option: str) -> str | None:
    path = os.environ.get("AIRFLOW_CONFIG") or str(airflow_home() / "airflow.cfg")
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    cached = _FILE_CACHE.get(path)
    if cached is None or cached[0] != mtime:
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return None
        cached = _FILE_CACHE[path] = (mtime, parser)
    if not cached[1].has_option(section, option):
        return None
    return cached[1].get(section, option).replace("{AIRFLOW_HOME}", str(airflow_home()))


def get(option: str) -> str:
    """Read an option: environment variable first (cheap, works in every process), then Airflow conf."""
    value = airflow_option(SECTION, option)
    return value if value else _DEFAULTS[option]


def pipelines_path() -> str:
    return get("pipelines_path") or str(airflow_home() / "logidata" / "pipelines")


def staging_path() -> str:
    return get("staging_path") or str(airflow_home() / "logidata" / "staging")


def report_path() -> str:
    return get("report_path") or str(airflow_home() / "logidata" / "factory_report.json")


def keep_staging() -> str:
    value = get("keep_staging") or "on_failure"
    if value not in KEEP_STAGING_CHOICES:
        raise ValueError(
            f"[logidata] keep_staging = {value!r} is not valid; use one of {', '.join(KEEP_STAGING_CHOICES)}"
        )
    return value


def duckdb_memory_limit() -> str:
    return get("duckdb_memory_limit") or _DEFAULTS["duckdb_memory_limit"]


def duckdb_threads() -> int:
    return int(get("duckdb_threads") or 0)


def batch_rows() -> int:
    return max(1024, int(get("batch_rows") or 122880))


def builder_url_template() -> str:
    return get("builder_url") or _DEFAULTS["builder_url"]


def builder_url(pipeline_id: str) -> str:
    return builder_url_template().replace("{pipeline_id}", pipeline_id)


def python_modules() -> tuple[str, ...]:
    """Module prefixes a ``python`` node may call besides code in the DAGs folder (``*``: any module)."""
    return tuple(part.strip() for part in get("python_modules").split(",") if part.strip())


def dags_folder() -> str | None:
    """Airflow's DAGs folder (where ``python`` nodes' code is deployed), or ``None`` without Airflow conf."""
    return airflow_option("core", "dags_folder") or None


# --- security policy (airflow_provider_logidata.security) ------------------------------------------


def _flag(option: str) -> bool:
    return (get(option) or _DEFAULTS[option]).strip().lower() in ("1", "true", "yes", "on")


def allowed_paths() -> tuple[str, ...]:
    """Local roots and object-storage URI prefixes pipelines may read and write (``security.paths``).

    Empty means the default: a data folder under ``$AIRFLOW_HOME/logidata/`` plus the staging path.
    """
    configured = tuple(part.strip() for part in get("allowed_paths").split(",") if part.strip())
    if configured:
        return configured
    return (str(airflow_home() / "logidata" / "data"), staging_path())


def data_path() -> str:
    """The default data folder (first default allowed root; the examples and the demo put data there)."""
    return str(airflow_home() / "logidata" / "data")


def allow_ambient_cloud_credentials() -> bool:
    """Whether an ``aws`` connection without credentials of its own may use the host's ambient identity."""
    return _flag("allow_ambient_cloud_credentials")


def max_versions() -> int:
    """Versions kept per pipeline in the store; older ones are pruned on save (at least 1)."""
    return max(1, int(get("max_versions") or _DEFAULTS["max_versions"]))


def max_pipeline_bytes() -> int:
    """Largest pipeline document (serialized JSON) the store accepts."""
    return max(1024, int(get("max_pipeline_bytes") or _DEFAULTS["max_pipeline_bytes"]))


def source_statement_timeout() -> float:
    """Seconds a run's PostgreSQL source query may run (``0``: no limit)."""
    return max(0.0, float(get("source_statement_timeout") or _DEFAULTS["source_statement_timeout"]))


# --- data preview (airflow_provider_logidata.preview) ------------------------------------------------


def preview_workers() -> int:
    """Worker processes running previews at once (each is one process outside the api-server)."""
    return max(1, int(get("preview_workers") or _DEFAULTS["preview_workers"]))


def preview_timeout() -> float:
    """Seconds one preview may take before its worker is killed and the request answered 504."""
    return max(0.1, float(get("preview_timeout") or _DEFAULTS["preview_timeout"]))


def preview_memory_limit() -> str:
    """Memory one preview worker may use (DuckDB's limit and the process's address-space cap)."""
    return get("preview_memory_limit") or _DEFAULTS["preview_memory_limit"]


def preview_queue() -> int:
    """Previews waiting for a worker beyond those running; more at once are answered 429."""
    return max(0, int(get("preview_queue") or _DEFAULTS["preview_queue"]))


def preview_cache_entries() -> int:
    """Preview answers kept in the api-server's memory (least recently used dropped first)."""
    return max(0, int(get("preview_cache_entries") or _DEFAULTS["preview_cache_entries"]))


def preview_prestart() -> bool:
    """Start the preview workers with the api-server (else on the first preview, which then waits)."""
    return (get("preview_prestart") or "True").strip().lower() in ("1", "true", "yes", "on")
