"""A source's columns without reading its data: the run's own reader asked for zero rows.

The same sniffing a run uses decides the columns (``preview.sampling``): CSV and JSON-lines through
DuckDB's reader with the node's options (its type sniff reads a sample), Parquet from the footer,
PostgreSQL through the run's COPY reader over ``... LIMIT 0`` (the catalog's types, no row read), HTTP
from the first page. The security policy checks the config first, exactly as before a preview or a run.

``Reach`` says how far validation may go: ``none`` reads nothing, ``local`` only local files (no
connection), ``all`` every source through its Airflow connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from airflow_provider_logidata.schema.model import Column

Reach = Literal["none", "local", "all"]
# Rows asked of each source: none where the reader knows the columns without rows (DuckDB's sniffer, a
# Parquet footer, PostgreSQL's LIMIT 0); JSON records have columns only in records, so an API's first
# page is read whole (as the run's first batch infers them).
SCHEMA_ROWS = {"source.http_api": 10_000}
log = logging.getLogger("airflow_provider_logidata.schema")


class SourceUnread(Exception):
    """The source was not read (the reach forbids it); not a problem of the pipeline."""


class SourceFailed(Exception):
    """Reading the source's columns failed: the message says why, in the run's words."""


def column_fields_removed(module: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config reading every column: the fields choosing columns are checked against all of them."""
    if module in ("source.file", "source.postgres") and config.get("columns") is not None:
        return {**config, "columns": None}
    return config


def cache_key(module: str, config: dict[str, Any]) -> str:
    text = json.dumps([module, config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def needs_connection(module: str, config: dict[str, Any]) -> bool:
    if module != "source.file":
        return True
    return bool(config.get("conn_id")) or "://" in str(config.get("path", ""))


def read_columns(
    module: str,
    config: dict[str, Any],
    node_id: str,
    con: Callable[[], duckdb.DuckDBPyConnection],
    reach: Reach,
) -> list[Column]:
    """The columns a run of this source would produce (``config`` rendered and validated, as JSON)."""
    if reach == "none":
        raise SourceUnread("sources are not read (pass --connect, or validate in the builder)")
    if reach == "local" and needs_connection(module, config):
        raise SourceUnread("this source is reached through a connection (pass --connect to read it)")
    if module == "source.file" and not needs_connection(module, config) and not _local_exists(config):
        raise SourceFailed(f"file not found: {config.get('path')!r}; check the path")
    from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.preview.sampling import SAMPLERS
    from airflow_provider_logidata.schema.bind import QUIET, describe_arrow
    from airflow_provider_logidata.security.policy import check_config

    definition = registry()[module]
    sampler = SAMPLERS.get(module)
    if sampler is None:
        raise SourceUnread(f"the columns of a {module} source cannot be read before a run")
    validated = definition.config_model.model_validate(config)
    violations = check_config(definition.category, validated, stage="run")
    if violations:
        details = "; ".join(f"{item.path}: {item.message}" for item in violations)
        raise SourceFailed(f"refused by the security policy: {details}")
    owner = node_label(module, node_id)
    try:
        sample = sampler(config, node_id, SCHEMA_ROWS.get(module, 0), "head", None, QUIET)
    except Exception as error:  # the reader's own message names the path, connection or query
        text = str(error)
        if isinstance(error, LogiDataTaskError) or text.startswith(owner):
            text = text.removeprefix(owner).removeprefix(":").strip()
        raise SourceFailed(text or type(error).__name__) from None
    return describe_arrow(con(), sample.table)


def _local_exists(config: dict[str, Any]) -> bool:
    """Whether a local path (or glob) names a file, without importing the engine for one that does not."""
    import glob
    import os

    path = str(config.get("path", ""))
    if any(char in path for char in "*?["):
        return bool(glob.glob(path, recursive=True))
    return os.path.exists(path)
