"""A small pool of worker processes for previews: time limit, memory cap, bounded queue, kill on overrun.

Why not ``concurrent.futures.ProcessPoolExecutor``: it cannot stop one running task; killing a worker
breaks the whole executor. Here each worker is a fresh interpreter (``python -m
airflow_provider_logidata.preview.pool <fd>``: nothing of the api-server's state, threads or sockets is
inherited, and unlike multiprocessing's ``spawn`` the api-server's ``__main__`` is not imported again)
talking over a socket pair. The calling thread (FastAPI runs sync routes
in its thread pool, never on the event loop) sends a job to an idle worker and polls for the answer;
past the time limit, or when the worker's resident memory passes the cap, the worker is killed with
SIGKILL and a fresh one is started in its place, so a hung source or a runaway query can never take the
api-server down. At most ``workers + queue`` previews are admitted at once; the next is refused
(:class:`PoolBusy`, HTTP 429).

Workers see the api-server's current ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*``/``AWS_*``/``AIRFLOW__LOGIDATA__*``
environment with every job (connections defined as environment variables after the worker started are
found too). Workers run in Airflow's "server" process context (``_AIRFLOW_PROCESS_CONTEXT=server``, as
the api-server and scheduler), so connections stored in the metadata DB resolve as well.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

ENV_PREFIXES = ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_", "AIRFLOW__LOGIDATA__")
POLL_SECONDS = 0.05
START_SECONDS = 120.0  # a cold worker imports DuckDB, pyarrow and the engine before its first job


class PoolError(Exception):
    """A job that did not finish normally; ``running`` is what the worker last reported doing."""

    def __init__(self, message: str, running: str | None = None, node_id: str | None = None) -> None:
        super().__init__(message)
        self.running = running
        self.node_id = node_id


class PoolBusy(PoolError):
    pass


class PoolTimeout(PoolError):
    pass


class PoolMemory(PoolError):
    pass


class WorkerDied(PoolError):
    pass


class JobFailed(PoolError):
    """The job raised: ``kind`` is the exception class name, the message its text."""

    def __init__(
        self, kind: str, message: str, running: str | None = None, node_id: str | None = None
    ) -> None:
        super().__init__(message, running, node_id)
        self.kind = kind


# --- inside a worker ----------------------------------------------------------------------------------

_progress_conn: Connection | None = None
_job_limit: float | None = None  # the running job's time limit (seconds), inside a worker
_job_warnings: list[str] = []  # warnings the running job reported (report_warning)


def in_worker() -> bool:
    """Whether this process is a preview worker."""
    return _progress_conn is not None


def job_time_limit() -> float | None:
    """The running job's time limit in seconds inside a worker (past it the worker is killed), else None.

    Lets a job bound its own server-side work to the same limit (PostgreSQL ``statement_timeout``).
    """
    return _job_limit if _progress_conn is not None else None


def report_warning(text: str) -> None:
    """Note a warning for the running job's answer (a preview's ``warnings``); a no-op outside workers."""
    if _progress_conn is not None and text not in _job_warnings:
        _job_warnings.append(text)


def job_warnings() -> list[str]:
    """The warnings the running job reported so far."""
    return list(_job_warnings)


def report_progress(text: str, node_id: str | None = None) -> None:
    """Tell the pool what the job is doing now (named in a timeout message); a no-op outside workers."""
    if _progress_conn is not None:
        with contextlib.suppress(OSError, ValueError):
            _progress_conn.send(("progress", text, node_id))


def _sync_env(env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith(ENV_PREFIXES)]:
        if key not in env:
            del os.environ[key]
    os.environ.update(env)


def _worker_main(conn: Connection, warm: Sequence[str]) -> None:
    global _progress_conn, _job_limit
    _progress_conn = conn
    for name in warm:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        target, args, env, *rest = message
        _job_limit = float(rest[0]) if rest and rest[0] is not None else None
        _job_warnings.clear()
        _sync_env(env)
        try:
            module_name, _, attribute = target.partition(":")
            function = getattr(importlib.import_module(module_name), attribute)
            result = function(*args)
        except MemoryError:
            conn.send(("error", "MemoryError", "the preview ran out of memory"))
        except BaseException as error:  # every failure goes back as text; the worker lives on
            conn.send(("error", type(error).__name__, str(error) or type(error).__name__))
        else:
            conn.send(("ok", result))


# --- in the api-server --------------------------------------------------------------------------------


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux ``/proc``); 0 where unknown."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    baseline: int = 0  # resident memory when idle after start-up: the cap applies on top of it

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass
class PreviewPool:
    workers: int = 2
    timeout: float = 10.0
    memory_bytes: int = 1 << 30
    queue_size: int = 8
    warm: tuple[str, ...] = (
        "duckdb",
        "pyarrow",
        "airflow_provider_logidata.preview.execute",
        "airflow_provider_logidata.preview.sampling",
        "airflow_provider_logidata.engine.binding",
        "airflow_provider_logidata.profiling",
        "airflow_provider_logidata.suggest.service",
        "airflow_provider_logidata.suggest.engine",
        "airflow_provider_logidata.suggest.rules",
    )
    _idle: queue.Queue[_Worker] = field(default_factory=queue.Queue, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _admitted: int = 0
    _started: int = 0
    _closed: bool = False

    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child.fileno()), *self.warm],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                # A server-side process like the api-server itself: Airflow's secrets lookup then reads
                # connections from the metadata DB too (not only AIRFLOW_CONN_* and external backends).
                env={**os.environ, "_AIRFLOW_PROCESS_CONTEXT": "server"},
            )
        finally:
            child.close()
        return _Worker(process=process, conn=Connection(parent.detach()))

    def _fill(self) -> None:
        with self._lock:
            missing = self.workers - self._started
            self._started += max(0, missing)
        for _ in range(max(0, missing)):
            self._idle.put(self._spawn())

    def start(self) -> None:
        """Start the workers now (non-blocking) so the first preview does not wait for their imports."""
        self._closed = False
        self._fill()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        if self._closed:
            return
        self._idle.put(self._spawn())

    def run(self, target: str, *args: Any, timeout: float | None = None) -> Any:
        """Run ``module:function(*args)`` in a worker; its result, or a :class:`PoolError`."""
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            if self._admitted >= self.workers + self.queue_size:
                raise PoolBusy(
                    f"{self._admitted} previews are running or waiting (limit {self.workers} running + "
                    f"{self.queue_size} waiting); try again in a moment"
                )
            self._admitted += 1
        try:
            self.start()
            worker = self._idle.get(timeout=START_SECONDS + limit * (1 + self.queue_size))
            return self._run_on(worker, target, args, limit)
        except queue.Empty:
            raise PoolBusy("no preview worker became free in time; try again in a moment") from None
        finally:
            with self._lock:
                self._admitted -= 1

    def _run_on(self, worker: _Worker, target: str, args: tuple[Any, ...], limit: float) -> Any:
        if not worker.ready:
            if not worker.conn.poll(START_SECONDS):
                self._replace(worker)
                raise WorkerDied("a preview worker did not start in time")
            try:
                worker.conn.recv()
            except (EOFError, OSError):
                self._replace(worker)
                raise WorkerDied("a preview worker failed while starting") from None
            worker.ready = True
            worker.baseline = _rss_bytes(worker.process.pid)
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
        try:
            worker.conn.send((target, args, env, limit))
        except (OSError, ValueError):
            self._replace(worker)
            raise WorkerDied("a preview worker was gone; it has been replaced, try again") from None
        started = time.monotonic()
        running: str | None = None
        node_id: str | None = None
        while True:
            try:
                has_message = worker.conn.poll(POLL_SECONDS)
                message = worker.conn.recv() if has_message else None
            except (EOFError, OSError):
                code = worker.process.poll()
                self._replace(worker)
                raise WorkerDied(
                    f"the preview worker stopped (exit code {code}); it may have been killed for memory",
                    running,
                    node_id,
                ) from None
            if message is not None:
                kind = message[0]
                if kind == "progress":
                    running, node_id = str(message[1]), message[2]
                    continue
                self._idle.put(worker)
                if kind == "ok":
                    return message[1]
                raise JobFailed(str(message[1]), str(message[2]), running, node_id)
            if time.monotonic() - started > limit:
                self._replace(worker)
                raise PoolTimeout(f"timed out after {limit:g} s", running, node_id)
            used = _rss_bytes(worker.process.pid) - worker.baseline
            if used > self.memory_bytes:
                self._replace(worker)
                raise PoolMemory(
                    f"used more than {self.memory_bytes // (1 << 20)} MiB of memory", running, node_id
                )

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):
                worker.conn.send(None)
            worker.kill()
        with self._lock:
            self._started = 0


def parse_bytes(text: str) -> int:
    """``1GB``, ``512MB``, ``2GiB``, ``1000000`` → bytes (binary multiples, as DuckDB reads them)."""
    value = text.strip().upper().replace(" ", "").removesuffix("IB").removesuffix("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if value and value[-1] in units:
        return int(float(value[:-1]) * units[value[-1]])
    return int(float(value))


if __name__ == "__main__":  # a worker: ``python -m airflow_provider_logidata.preview.pool <fd> <module>...``
    # Run the imported module's copy, not this ``__main__`` one: report_progress (called by the jobs
    # through the package import) must find the connection in the module object they see.
    from airflow_provider_logidata.preview import pool as _pool_module

    _pool_module._worker_main(Connection(int(sys.argv[1])), sys.argv[2:])
