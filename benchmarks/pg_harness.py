"""A throw-away PostgreSQL server for the load benchmark (no pytest needed).

``start_server()`` runs ``initdb`` into a temporary folder and starts the server with ``pg_ctl`` on
127.0.0.1 and a free port (Unix socket in the same folder, password auth over TCP); it is stopped and the
folder deleted when the ``with`` block ends. PostgreSQL refuses to run as root, so as root the server runs
as the ``postgres`` OS user (``runuser``). Binaries: ``$LOGIDATA_BENCH_PG_BIN``, else the newest
``/usr/lib/postgresql/<version>/bin``, else ``initdb`` on ``PATH``.

Server settings favour a bulk-load benchmark on a throw-away cluster (``fsync=off``, ``synchronous_commit=
off``, ``full_page_writes=off``, ``max_wal_size=4GB``); both loaders measured against it get the same.
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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL binaries or OS user; the benchmark reports the load section as not run."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    bin_dir: Path
    root: Path

    def conninfo(self, dbname: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} password={self.password} "
            f"dbname={dbname} connect_timeout=10"
        )

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(self.conninfo(dbname), **kwargs)

    def airflow_conn(self, dbname: str) -> str:
        """JSON form of an Airflow connection (for ``AIRFLOW_CONN_<ID>``)."""
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
        return {**os.environ, "PGPASSWORD": self.password}

    def psql_args(self, dbname: str) -> list[str]:
        psql = self.bin_dir / "psql"
        binary = str(psql) if psql.is_file() else (shutil.which("psql") or "psql")
        return [binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U",
                self.user, "-d", dbname]  # fmt: skip


def find_bin_dir() -> Path:
    candidates: list[Path] = []
    override = os.environ.get("LOGIDATA_BENCH_PG_BIN")
    if override:
        candidates.append(Path(override))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        candidates += [p / "bin" for p in reversed(versions)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found ($LOGIDATA_BENCH_PG_BIN, /usr/lib/postgresql/*/bin, PATH)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--", *command]
    raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL as postgres")


def _check(result: subprocess.CompletedProcess[str], what: str, log_file: Path | None = None) -> None:
    if result.returncode == 0:
        return
    log_text = ""
    if log_file is not None and log_file.exists():
        log_text = "\nserver log:\n" + log_file.read_text(errors="replace")[-2000:]
    raise PostgresUnavailable(
        f"{what} failed ({result.returncode}): {result.stdout}{result.stderr}{log_text}"
    )


@contextlib.contextmanager
def start_server() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="logidata-bench-pg-"))
    data_dir, socket_dir, log_file = root / "data", root / "socket", root / "server.log"
    password = secrets.token_hex(16)
    pw_file = root / "pwfile"
    pw_file.write_text(password + "\n")
    socket_dir.mkdir()
    try:
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(PG_USER)
            except KeyError:
                raise PostgresUnavailable(f"running as root and there is no {PG_USER!r} OS user") from None
            for path in (root, socket_dir, pw_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", PG_USER, f"--pwfile={pw_file}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale",
                  "--no-sync"]  # fmt: skip
        _check(subprocess.run(_as_server_user(initdb), capture_output=True, text=True, timeout=120), "initdb")
        settings = [
            "listen_addresses='127.0.0.1'",
            f"unix_socket_directories='{socket_dir}'",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_wal_size='4GB'",
            "shared_buffers='256MB'",
            "max_connections=20",
        ]
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# logidata benchmark\n" + "\n".join(settings) + "\n")
        server = None
        result = None
        for _attempt in range(3):
            port = _free_port()
            start = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-w", "-t", "60",
                     "-o", f"-p {port}", "start"]  # fmt: skip
            result = subprocess.run(_as_server_user(start), capture_output=True, text=True, timeout=120)
            if result.returncode == 0:
                server = PostgresServer("127.0.0.1", port, PG_USER, password, bin_dir, root)
                break
            time.sleep(0.2)
        if server is None:
            assert result is not None
            _check(result, "pg_ctl start", log_file)
        assert server is not None
        try:
            _wait_ready(server)
            yield server
        finally:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"]
            subprocess.run(_as_server_user(stop), capture_output=True, check=False, timeout=120)
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
