"""The preview as the API calls it: plan here, answer from the cache or run in the worker pool.

Every failure becomes a :class:`~airflow_provider_logidata.preview.plan.PreviewError` carrying the HTTP
status of ``docs/preview-api.md``: 404 unknown node, 422 invalid upstream or a node failing on the sample,
429 too many previews at once, 504 time limit, 507 memory cap.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from airflow_provider_logidata.preview.cache import PreviewCache
from airflow_provider_logidata.preview.plan import PreviewError, Sampling, plan_preview
from airflow_provider_logidata.preview.pool import (
    JobFailed,
    PoolBusy,
    PoolError,
    PoolMemory,
    PoolTimeout,
    PreviewPool,
    WorkerDied,
    parse_bytes,
)

RUN_PLAN = "airflow_provider_logidata.preview.execute:run_plan"
# Exceptions a node raises for a problem of its config or data (the message names node, cause and fix).
USER_ERRORS = frozenset({"LogiDataTaskError", "ValueError", "AirflowNotFoundException"})
MEMORY_ERRORS = frozenset({"MemoryError", "OutOfMemoryException"})


class PreviewBusy(PreviewError):
    status = 429


class PreviewTimedOut(PreviewError):
    status = 504


class PreviewTooLarge(PreviewError):
    status = 507


class PreviewFailed(PreviewError):
    status = 422


class PreviewCrashed(PreviewError):
    status = 500


_lock = threading.Lock()
_pool: PreviewPool | None = None
_cache: PreviewCache | None = None


def get_pool() -> PreviewPool:
    """The process's pool, sized from ``[logidata]`` on first use; timeout and memory are re-read per call."""
    global _pool
    from airflow_provider_logidata import settings

    with _lock:
        if _pool is None:
            _pool = PreviewPool(workers=settings.preview_workers(), queue_size=settings.preview_queue())
        _pool.timeout = settings.preview_timeout()
        _pool.memory_bytes = parse_bytes(settings.preview_memory_limit())
        return _pool


def get_cache() -> PreviewCache:
    global _cache
    from airflow_provider_logidata import settings

    with _lock:
        if _cache is None:
            _cache = PreviewCache(settings.preview_cache_entries())
        return _cache


def start() -> None:
    """Start the workers without waiting for them (they import DuckDB and the engine in the background)."""
    get_pool().start()


def shutdown() -> None:
    """Stop the workers (api-server shutdown, tests)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def preview(
    data: Any, node_id: str, *, limit: int = 100, sampling: Sampling = "head", seed: int | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    plan = plan_preview(data, node_id, limit=limit, sampling=sampling, seed=seed)
    cache = get_cache()
    key = plan.key
    # A random sample without a seed is a new sample each time: never answered from the cache.
    cacheable = sampling == "head" or seed is not None
    if cacheable:
        hit = cache.get(key)
        if hit is not None:
            hit["cached"] = True
            hit["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
            return hit
    pool = get_pool()
    memory = duckdb_limit(pool.memory_bytes)
    try:
        answer: dict[str, Any] = pool.run(RUN_PLAN, plan, memory)
    except PoolError as error:
        raise _translate(error, plan.node_id, pool) from None
    answer["cached"] = False
    answer["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    if cacheable:
        cache.put(key, answer)
    return answer


def duckdb_limit(cap: int) -> str:
    """DuckDB's share of the worker's cap: it spills or fails cleanly before the worker is killed."""
    return f"{max(64, int(cap * 0.6) // (1 << 20))}MB"


def _translate(error: PoolError, node_id: str, pool: PreviewPool) -> PreviewError:
    where = f" ({error.running} still running)" if error.running else ""
    issue = [{"path": "", "message": str(error), "node_id": error.node_id}] if error.node_id else []
    if isinstance(error, PoolBusy):
        return PreviewBusy(f"too many previews at once: {error}")
    if isinstance(error, PoolTimeout):
        return PreviewTimedOut(
            f"preview of node {node_id!r} timed out after {pool.timeout:g} s{where}; raise [logidata] "
            "preview_timeout or add a filter",
            issue,
        )
    if isinstance(error, PoolMemory) or (isinstance(error, JobFailed) and error.kind in MEMORY_ERRORS):
        return PreviewTooLarge(
            f"preview of node {node_id!r} needed more memory than [logidata] preview_memory_limit allows "
            f"({error}{where}); lower the row limit, select fewer columns or add a filter",
            issue,
        )
    if isinstance(error, JobFailed):
        if error.kind in USER_ERRORS:
            return PreviewFailed(f"preview of node {node_id!r} failed: {error}", issue)
        return PreviewCrashed(f"preview of node {node_id!r} failed ({error.kind}): {error}", issue)
    if isinstance(error, WorkerDied):
        return PreviewTooLarge(f"preview of node {node_id!r} failed: {error}{where}", issue)
    return PreviewCrashed(f"preview of node {node_id!r} failed: {error}", issue)
