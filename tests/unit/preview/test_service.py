"""How pool outcomes become API answers (status and message) in ``preview.service``."""

from __future__ import annotations

from airflow_provider_logidata.preview.pool import (
    JobFailed,
    PoolBusy,
    PoolMemory,
    PoolTimeout,
    PreviewPool,
    WorkerDied,
)
from airflow_provider_logidata.preview.service import _translate, duckdb_limit


def test_statuses_and_messages() -> None:
    pool = PreviewPool(timeout=10.0)
    timeout = _translate(PoolTimeout("timed out", "source.postgres 'orders'", "orders"), "last", pool)
    assert timeout.status == 504
    assert timeout.detail == (
        "preview of node 'last' timed out after 10 s (source.postgres 'orders' still running); raise "
        "[logidata] preview_timeout or add a filter"
    )
    assert timeout.errors[0]["node_id"] == "orders"
    assert _translate(PoolBusy("8 previews"), "n", pool).status == 429
    memory = _translate(PoolMemory("used more than 1024 MiB of memory"), "n", pool)
    assert memory.status == 507 and "preview_memory_limit" in memory.detail
    assert _translate(JobFailed("OutOfMemoryException", "oom"), "n", pool).status == 507
    failed = _translate(JobFailed("LogiDataTaskError", "filter_rows node 'k': bad", "x", "k"), "k", pool)
    assert failed.status == 422 and failed.errors == [
        {"path": "", "message": "filter_rows node 'k': bad", "node_id": "k"}
    ]
    crashed = _translate(JobFailed("KeyError", "'x'"), "n", pool)
    assert crashed.status == 500 and "KeyError" in crashed.detail
    assert _translate(WorkerDied("stopped (exit code -9)"), "n", pool).status == 507


def test_duckdb_gets_part_of_the_cap() -> None:
    assert duckdb_limit(1 << 30) == "614MB"
    assert duckdb_limit(1 << 20) == "64MB"
