"""A real, throw-away PostgreSQL server for the test suite (a pytest plugin, registered by conftest.py).

``postgres_server`` (session): ``initdb`` into a temporary folder, start the server with ``pg_ctl`` on
127.0.0.1 and a free port (Unix socket in the same folder), password auth over TCP, stopped and deleted at
the end of the session. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
OS user (through ``runuser``) with a data folder it owns. Binaries: ``$LOGIDATA_TEST_PG_BIN``, else the
newest ``/usr/lib/postgresql/<version>/bin``, else ``initdb``/``pg_ctl`` on ``PATH``; when none is found
the fixture fails with a message saying what to install (no skipping). A watchdog process stops the server
and deletes its folder when the test process ends, even when it is killed.

``start_server()`` is the same server outside pytest: the benchmarks (``benchmarks/engine_bench.py``,
``benchmarks/preview_bench.py``) start it with ``BULK_LOAD_SETTINGS`` and run ``psql`` against it
(``psql_args``/``psql_env``); it raises ``PostgresUnavailable`` where the fixture fails.

``pg_database``: a fresh database per test. ``pg_conn_id``: the Airflow connection id (set through the
environment variable ``AIRFLOW_CONN_<ID>``, conn_type ``postgres``) of that database, so
``PostgresHook(postgres_conn_id=...)`` and the LogiData modules reach it. ``pg``: a psycopg 3 connection
(autocommit) to the same database for arranging and checking data.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_USER = "postgres"  # the database superuser created by initdb (and the OS user when running as root)
CONN_ID = "logidata_pg"
# A throw-away server: durability is not needed, speed is.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "128MB",
}
BULK_LOAD_SETTINGS = {"max_wal_size": "4GB", "shared_buffers": "256MB"}  # on top of SETTINGS, for benchmarks


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL binaries or OS user, or the server did not start; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    pg_stat_statements: bool

    def conninfo(self, dbname: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} password={self.password} "
            f"dbname={dbname} connect_timeout=10"
        )

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(self.conninfo(dbname), **kwargs)

    def airflow_conn(self, dbname: str) -> str:
        """The JSON form of an Airflow connection to ``dbname`` (for ``AIRFLOW_CONN_<ID>``)."""
        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": self.port,
                "login": self.user,
                "password": self.password,
                "schema": dbname,
            }
        )

    def psql_env(self) -> dict[str, str]:
        """The environment for ``psql_args`` (the password)."""
        return {**os.environ, "PGPASSWORD": self.password}

    def psql_args(self, dbname: str) -> list[str]:
        """A ``psql`` command line (no psqlrc, quiet, stop on error) connected to ``dbname``."""
        psql = self.bin_dir / "psql"
        binary = str(psql) if psql.is_file() else (shutil.which("psql") or "psql")
        return [binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U",
                self.user, "-d", dbname]  # fmt: skip


def find_bin_dir(preferred: str | Path | None = None) -> Path:
    """Folder with ``initdb``, ``pg_ctl`` and ``postgres`` (``preferred`` first); raises what to install."""
    candidates = [Path(folder) for folder in (preferred, os.environ.get("LOGIDATA_TEST_PG_BIN")) if folder]
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True
        )
        candidates += [p / "bin" for p in versions]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked in $LOGIDATA_TEST_PG_BIN, /usr/lib/postgresql/*/bin "
        "and PATH). Install the server, e.g. `apt-get install -y postgresql-15` on Debian, or set "
        "LOGIDATA_TEST_PG_BIN to the folder holding initdb, pg_ctl and postgres."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """Run as the ``postgres`` OS user when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--", *command]
    su = shutil.which("su")
    if su:
        import shlex

        return [su, PG_USER, "-s", "/bin/sh", "-c", shlex.join(command)]
    raise PostgresUnavailable("running as root but neither runuser nor su is available to start PostgreSQL")


def _run(command: list[str], what: str, log_file: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        log_text = ""
        if log_file is not None and log_file.exists():
            log_text = "\nserver log:\n" + log_file.read_text(errors="replace")[-3000:]
        raise PostgresUnavailable(
            f"{what} failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}"
            f"{log_text}"
        )


_WATCHDOG = """
import json, os, shutil, subprocess, sys
sys.stdin.buffer.read()  # returns when the test process closes the pipe or dies
stop, data_dir, root = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
if os.path.exists(os.path.join(data_dir, "postmaster.pid")):
    subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
shutil.rmtree(root, ignore_errors=True)
"""


@contextlib.contextmanager
def start_server(
    *, bin_dir: str | Path | None = None, settings: Mapping[str, str] | None = None
) -> Iterator[PostgresServer]:
    """Start a throw-away server (see the module docstring); ``bin_dir`` is tried before the usual places,
    ``settings`` (``postgresql.conf`` name -> value) go on top of ``SETTINGS``."""
    bin_dir = find_bin_dir(bin_dir)
    # As root, under /tmp: the folder must be reachable by the postgres user (a private $TMPDIR may not be).
    root = Path(tempfile.mkdtemp(prefix="logidata-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    data_dir = root / "data"
    socket_dir = root / "socket"
    log_file = root / "server.log"
    password = secrets.token_hex(16)
    pw_file = root / "pwfile"
    pw_file.write_text(password + "\n")
    socket_dir.mkdir()
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(PG_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and there is no {PG_USER!r} OS user to run PostgreSQL as (the Debian "
                "package creates it); create it or run the tests as a regular user"
            ) from None
        for path in (root, socket_dir, pw_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    lib_dir = bin_dir.parent / "lib"
    stat_statements = (lib_dir / "pg_stat_statements.so").exists()
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    PG_USER,
                    f"--pwfile={pw_file}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        conf = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(socket_dir), **SETTINGS}
        if stat_statements:
            conf["shared_preload_libraries"] = "pg_stat_statements"
        conf.update(settings or {})
        # Root may append to the postgres-owned file directly; its ownership does not change.
        with (data_dir / "postgresql.conf").open("a") as file:
            file.write("\n# logidata test suite\n" + "".join(f"{k} = '{v}'\n" for k, v in conf.items()))
        # Stops the server and deletes the folder when this process ends, however it ends (even killed):
        # it waits for end-of-file on a pipe that only this process holds open.
        stop = _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"]
        )
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, json.dumps(stop), str(data_dir), str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C sent to the test run's process group does not reach it
        )
        server: PostgresServer | None = None
        for _attempt in range(3):
            port = _free_port()
            result = subprocess.run(
                _as_server_user(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(data_dir),
                        "-l",
                        str(log_file),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-p {port}",
                        "start",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if result.returncode == 0:
                server = PostgresServer(
                    host="127.0.0.1",
                    port=port,
                    user=PG_USER,
                    password=password,
                    bin_dir=bin_dir,
                    data_dir=data_dir,
                    socket_dir=socket_dir,
                    pg_stat_statements=stat_statements,
                )
                break
            time.sleep(0.2)  # the port was taken in between: try another one
        if server is None:
            log_text = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            raise PostgresUnavailable(
                f"PostgreSQL did not start:\n{result.stdout}\n{result.stderr}\n{log_text}"
            )
        try:
            _wait_ready(server)
            if stat_statements:
                with server.connect(autocommit=True) as con:
                    con.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            yield server
        finally:
            assert watchdog.stdin is not None
            watchdog.stdin.close()  # the watchdog stops the server and removes the folder
            try:
                watchdog.wait(timeout=120)
            except subprocess.TimeoutExpired:
                watchdog.kill()
            subprocess.run(stop, capture_output=True, check=False, timeout=120)  # in case it could not
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with server.connect() as con:
                con.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    try:
        with start_server() as server:
            yield server
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards (open sessions are terminated)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with postgres_server.connect(autocommit=True) as con:
        # LOGIDATA_TEST_PG_DB_OPTIONS: e.g. "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" runs the tests on a
        # language collation, as most servers use, instead of initdb's C locale.
        options = os.environ.get("LOGIDATA_TEST_PG_DB_OPTIONS", "")
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY file_copy {options}')
    yield name
    with postgres_server.connect(autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_conn_id(postgres_server: PostgresServer, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Id of an Airflow connection (``AIRFLOW_CONN_LOGIDATA_PG``) to this test's fresh database."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", postgres_server.airflow_conn(pg_database))
    return CONN_ID


@pytest.fixture
def pg(postgres_server: PostgresServer, pg_database: str) -> Iterator[Any]:
    """An autocommit psycopg 3 connection to this test's database."""
    with postgres_server.connect(pg_database, autocommit=True) as con:
        yield con
