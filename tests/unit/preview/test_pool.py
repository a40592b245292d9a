"""The preview worker pool with real worker processes: time limit, memory cap, queue bound, failures.

Jobs are standard-library functions (``time:sleep``, ``os:getpid``, ...) so the workers start fast
(nothing to warm up) and the tests need no importable test module.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_logidata.preview.pool import (
    JobFailed,
    PoolBusy,
    PoolMemory,
    PoolTimeout,
    PreviewPool,
    parse_bytes,
)


@pytest.fixture
def pool() -> Iterator[PreviewPool]:
    created = PreviewPool(workers=1, timeout=5.0, memory_bytes=256 << 20, queue_size=0, warm=())
    yield created
    created.close()


def test_runs_jobs_in_another_process(pool: PreviewPool) -> None:
    assert pool.run("os:getpid") != os.getpid()
    assert pool.run("builtins:sum", [1, 2, 3]) == 6


def test_a_hung_job_is_killed_at_the_limit_and_the_next_job_works(pool: PreviewPool) -> None:
    first = pool.run("os:getpid")
    started = time.monotonic()
    with pytest.raises(PoolTimeout, match=r"timed out after 1 s"):
        pool.run("time:sleep", 60, timeout=1.0)
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # killed, not left running
    replacement = pool.run("os:getpid")
    assert replacement != first


def test_job_errors_come_back_with_their_kind(pool: PreviewPool) -> None:
    with pytest.raises(JobFailed) as caught:
        pool.run("builtins:int", "not a number")
    assert caught.value.kind == "ValueError" and "not a number" in str(caught.value)
    assert pool.run("builtins:abs", -3) == 3  # the worker lives on


def test_memory_cap_kills_the_worker(pool: PreviewPool) -> None:
    pool.memory_bytes = 64 << 20
    with pytest.raises(PoolMemory, match="64 MiB"):
        pool.run("os:urandom", 400 << 20, timeout=30)
    assert pool.run("builtins:abs", -1) == 1


def test_more_previews_than_workers_and_queue_are_refused(pool: PreviewPool) -> None:
    pool.run("os:getpid")  # warm
    busy = threading.Thread(target=lambda: pool.run("time:sleep", 1.5))
    busy.start()
    time.sleep(0.3)
    try:
        with pytest.raises(PoolBusy, match="limit 1 running"):
            pool.run("os:getpid")
    finally:
        busy.join()
    assert pool.run("builtins:abs", -2) == 2


def test_environment_follows_the_api_server(pool: PreviewPool, monkeypatch: pytest.MonkeyPatch) -> None:
    pool.run("os:getpid")
    monkeypatch.setenv("AIRFLOW_CONN_PREVIEW_TEST", "postgres://u:p@h/db")
    assert pool.run("os:getenv", "AIRFLOW_CONN_PREVIEW_TEST") == "postgres://u:p@h/db"
    monkeypatch.delenv("AIRFLOW_CONN_PREVIEW_TEST")
    assert pool.run("os:getenv", "AIRFLOW_CONN_PREVIEW_TEST") is None


def test_parse_bytes() -> None:
    assert parse_bytes("1GB") == 1 << 30
    assert parse_bytes("512MiB") == 512 << 20
    assert parse_bytes("1.5G") == 3 << 29
    assert parse_bytes("1000") == 1000
