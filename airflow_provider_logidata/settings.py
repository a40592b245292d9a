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
    "duckdb_memory_limit": "auto",
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


# ``auto``: the machine's memory shared by the tasks that may run on it at once, at least this much.
AUTO_MEMORY_FLOOR = 320 * 1024**2
AUTO_MEMORY_SHARE = 0.5  # of the machine's (or container's) memory, the rest left to Python, Arrow, the OS
# A container's memory limit: cgroup v2, then v1 ("max" or a huge number when unlimited).
CGROUP_MEMORY_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def duckdb_memory_limit() -> str:
    """DuckDB's ``memory_limit`` per task: the option as written, or for ``auto`` (the default) a share of
    this worker's memory per task slot (:func:`auto_memory_limit`)."""
    return duckdb_memory_limit_setting()[0]


def duckdb_memory_limit_setting() -> tuple[str, str | None]:
    """DuckDB's ``memory_limit`` and, when ``auto`` chose it, why (for the task log); else ``None``."""
    value = get("duckdb_memory_limit") or _DEFAULTS["duckdb_memory_limit"]
    if value.strip().lower() != "auto":
        return value, None
    limit, why = auto_memory_limit()
    return f"{limit // 1024**2}MB", why


def auto_memory_limit() -> tuple[int, str]:
    """Bytes for ``duckdb_memory_limit = auto`` and why, for the task log.

    Half of the memory this process may use (the container's limit when lower than the machine's) divided
    by the task slots of this worker, never below 320 MB: every slot busy with a large DuckDB step still
    leaves half the memory to the rest, and a single task on a roomy worker is not made to spill. A fixed
    limit was either too small there (320 MB spilled a 5 M-row DISTINCT: 1.7 s of 9.5 s) or risky on a
    worker running many tasks at once.
    """
    total = machine_memory()
    slots = task_slots()
    if total is None:
        return AUTO_MEMORY_FLOOR, "auto: memory size unknown, 320MB"
    share = int(total * AUTO_MEMORY_SHARE / slots)
    limit = max(AUTO_MEMORY_FLOOR, share)
    why = f"auto: half of {total / 1024**3:.1f} GiB over {slots} task slot(s)"
    if limit != share:
        why += ", raised to the 320MB floor"
    return limit, why


def machine_memory() -> int | None:
    """Bytes of memory this process may use: physical memory, or a lower cgroup (container) limit."""
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None
    for path in CGROUP_MEMORY_FILES:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
        break
    return total if total > 0 else None


def task_slots() -> int:
    """How many tasks this worker may run at once: a Celery worker's concurrency, one per Kubernetes pod,
    else (LocalExecutor, ``airflow dags test``) Airflow's ``[core] parallelism``."""
    executor = (airflow_option("core", "executor") or "").lower()
    if "kubernetes" in executor and "celery" not in executor:
        return 1
    option = ("celery", "worker_concurrency", 16) if "celery" in executor else ("core", "parallelism", 32)
    raw = airflow_option(option[0], option[1])
    try:
        slots = int(raw) if raw is not None and raw.strip() else option[2]
    except ValueError:
        slots = option[2]
    return max(1, slots)


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
