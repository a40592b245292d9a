"""A throw-away PostgreSQL server for the load benchmark: the test suite's server (``tests/pg.py``), tuned.

``start_server()`` starts the same server the tests use (``initdb`` into a temporary folder, ``pg_ctl`` on
127.0.0.1 and a free port, password auth over TCP, run as the ``postgres`` OS user when we are root, a
watchdog that removes it even if this process is killed), then applies bulk-load settings and restarts it:
``max_wal_size=4GB`` and ``shared_buffers=256MB`` on top of the tests' ``fsync``, ``synchronous_commit``
and ``full_page_writes`` off. Both loaders measured against it get the same server. Binaries:
``$LOGIDATA_BENCH_PG_BIN``, else what ``tests/pg.py`` finds (``$LOGIDATA_TEST_PG_BIN``, the newest
``/usr/lib/postgresql/<version>/bin``, ``initdb`` on ``PATH``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import pg as test_pg  # tests/pg.py (tests/ is not a package)

if TYPE_CHECKING:
    from collections.abc import Iterator

BENCH_SETTINGS = {"max_wal_size": "4GB", "shared_buffers": "256MB"}


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL binaries or OS user; the benchmark reports the load section as not run."""


@dataclass(frozen=True)
class PostgresServer:
    """The test suite's server plus what the benchmark needs to run ``psql`` against it."""

    server: test_pg.PostgresServer

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def bin_dir(self) -> Path:
        return self.server.bin_dir

    def conninfo(self, dbname: str = "postgres") -> str:
        return self.server.conninfo(dbname)

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        return self.server.connect(dbname, **kwargs)

    def airflow_conn(self, dbname: str) -> str:
        """JSON form of an Airflow connection (for ``AIRFLOW_CONN_<ID>``)."""
        return self.server.airflow_conn(dbname)

    def psql_env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.server.password}

    def psql_args(self, dbname: str) -> list[str]:
        psql = self.bin_dir / "psql"
        binary = str(psql) if psql.is_file() else (shutil.which("psql") or "psql")
        return [binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U",
                self.server.user, "-d", dbname]  # fmt: skip


def _tune(server: test_pg.PostgresServer) -> None:
    with server.connect(autocommit=True) as con:
        for name, value in BENCH_SETTINGS.items():
            con.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    data_dir = server.data_dir
    restart = [str(server.bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(data_dir.parent / "server.log"),
               "-w", "-t", "60", "-m", "fast", "restart"]  # fmt: skip
    result = subprocess.run(
        test_pg._as_server_user(restart), capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"pg_ctl restart failed ({result.returncode}): {result.stdout}{result.stderr}"
        )
    test_pg._wait_ready(server)


@contextlib.contextmanager
def start_server() -> Iterator[PostgresServer]:
    override = os.environ.get("LOGIDATA_BENCH_PG_BIN")
    previous = os.environ.get("LOGIDATA_TEST_PG_BIN")
    if override:
        os.environ["LOGIDATA_TEST_PG_BIN"] = override
    manager = test_pg.start_server()
    try:
        server = manager.__enter__()
    except pytest.fail.Exception as error:  # tests/pg.py fails the way a test would: say why instead
        raise PostgresUnavailable(str(error)) from None
    finally:
        if override:
            if previous is None:
                os.environ.pop("LOGIDATA_TEST_PG_BIN", None)
            else:
                os.environ["LOGIDATA_TEST_PG_BIN"] = previous
    try:
        _tune(server)
        yield PostgresServer(server)
    finally:
        manager.__exit__(None, None, None)
