"""DAG-level callbacks attached to every generated DAG.

They live here, import-light, so the DAG processor can reference them without importing the engine;
the engine (and pyarrow/fsspec) is imported only when a run actually finishes.
"""

from __future__ import annotations

from typing import Any


def on_run_success(context: Any) -> None:
    from airflow_provider_logidata.engine.staging import cleanup_staging_on_success

    cleanup_staging_on_success(context)


def on_run_failure(context: Any) -> None:
    from airflow_provider_logidata.engine.staging import cleanup_staging_on_failure

    cleanup_staging_on_failure(context)
