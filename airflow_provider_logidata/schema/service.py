"""Design-time checks as the API runs them: in a preview worker, with source columns remembered here.

The check reads sources and binds editors' SQL, so it runs where previews run (``preview.pool``: its own
process, time limit and memory cap), never in the api-server process. The cache lives in this process
and is handed to the worker with each job, so every worker benefits from what any of them read.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.schema.cache import SourceCache
from airflow_provider_logidata.spec.errors import SpecIssue

if TYPE_CHECKING:
    from airflow_provider_logidata.schema.check import CheckResult
    from airflow_provider_logidata.schema.sources import Reach

CHECK_JOB = "airflow_provider_logidata.schema.check:check_pipeline_job"
_lock = threading.Lock()
_cache: SourceCache | None = None


def source_cache() -> SourceCache:
    global _cache
    with _lock:
        if _cache is None:
            _cache = SourceCache()
        return _cache


def check(
    data: Any, *, reach: Reach = "all", refresh: bool = False, expected_id: str | None = None
) -> CheckResult:
    """Structure and columns; a check that cannot finish (busy, timed out) degrades to the structure
    with a warning saying so, never to a failed request."""
    from airflow_provider_logidata.preview.pool import PoolError
    from airflow_provider_logidata.preview.service import get_pool
    from airflow_provider_logidata.schema.check import CheckResult, check_pipeline

    cache = source_cache()
    known = {} if refresh else cache.snapshot()
    try:
        result: CheckResult = get_pool().run(CHECK_JOB, data, reach, known, expected_id)
    except PoolError as error:
        structural = check_pipeline(data, reach="none", expected_id=expected_id, lineage=False)
        note = SpecIssue("", f"the column checks did not finish ({error}); only the structure was checked")
        return CheckResult([*structural.issues, _warning(note)])
    for key, (columns, failure) in result.read.items():
        cache.put(key, list(columns) if columns is not None else None, failure)
    return result


def _warning(issue: SpecIssue) -> SpecIssue:
    import dataclasses

    return dataclasses.replace(issue, severity="warning")
