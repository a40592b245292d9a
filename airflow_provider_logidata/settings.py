"""Lazy access to the ``[logidata]`` config section.

Nothing here reads Airflow config at import time: the DAG processor imports this module on every parse,
and the CLI should work (with explicit paths) even where Airflow's config is slow to load.
"""

from __future__ import annotations

import os
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


def get(option: str) -> str:
    """Read an option: environment variable first (cheap, works in every process), then Airflow conf."""
    env = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{option.upper()}")
    if env is not None:
        return env
    try:
        from airflow.configuration import conf
    except ImportError:  # a Task SDK-only worker
        return _DEFAULTS[option]
    return str(conf.get(SECTION, option, fallback=_DEFAULTS[option]) or _DEFAULTS[option])


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
    env = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if env:
        return env
    try:
        from airflow.configuration import conf
    except ImportError:
        return None
    return str(conf.get("core", "dags_folder", fallback="") or "") or None


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
