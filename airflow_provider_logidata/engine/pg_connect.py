"""Connecting to PostgreSQL: one job, shared by the source, the destination, ELT and the previews.

``connect`` turns an Airflow ``postgres`` connection into an autocommit psycopg 3 connection with the
session settings the engine relies on; ``confine`` bounds a transaction (read-only, ``statement_timeout``,
``client_connection_check_interval``); ``warn_about_role`` warns about a superuser role; and the error
helpers (``pg_error``, ``confinement_error``) word PostgreSQL's errors for the task log.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.engine.logs import TaskLog

CONNECT_TIMEOUT = 30


def connection_args(conn_id: str, *, owner: str) -> dict[str, Any]:
    """psycopg 3 connection arguments of an Airflow ``postgres`` connection (through PostgresHook)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        conn = hook.connection
    except Exception as error:
        text = str(error)
        if "NotFound" in type(error).__name__ or "isn't defined" in text or "not found" in text.lower():
            raise LogiDataTaskError(
                f"{owner}: the Airflow connection {conn_id!r} does not exist; create it (Admin > "
                f"Connections, type postgres) or set AIRFLOW_CONN_{conn_id.upper()}, or fix conn_id in the "
                "node's config"
            ) from None
        raise LogiDataTaskError(
            f"{owner}: cannot read the Airflow connection {conn_id!r}: {text}; check the connection"
        ) from None
    extra = conn.extra_dejson
    login, password, port = conn.login, conn.password, conn.port
    if extra.get("iam", False):
        login, password, port = hook.get_iam_token(conn)
    args: dict[str, Any] = {
        "host": conn.host or None,
        "port": port or None,
        "user": login or None,
        "password": password or None,
        "dbname": conn.schema or None,
        "connect_timeout": CONNECT_TIMEOUT,
    }
    ignored = set(getattr(hook, "ignored_extra_options", ())) | {"cursor"}
    for key, value in extra.items():
        if key not in ignored:
            args[key] = value
    return {key: value for key, value in args.items() if value is not None}


def _where(args: dict[str, Any]) -> str:
    host = args.get("host", "localhost")
    return f"{host}:{args.get('port', 5432)}/{args.get('dbname', '')} as {args.get('user', '(default user)')}"


@contextlib.contextmanager
def connect(conn_id: str, *, owner: str, node_id: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg 3 connection with the session settings the engine relies on."""
    args = connection_args(conn_id, owner=owner)
    args.setdefault("application_name", f"logidata:{node_id}"[:63])
    try:
        con = psycopg.connect(autocommit=True, **args)
    except psycopg.Error as error:
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "FATAL:" in cause:  # libpq's "connection to server at ... failed: FATAL:  <cause>"
            cause = cause.rsplit("FATAL:", 1)[1].strip()
        if "password" in cause or "authentication" in cause:
            fix = "check the login and password of the connection"
        elif "does not exist" in cause:
            fix = "check the database (the connection's schema field) and login of the connection"
        else:
            fix = "check the host, port and database of the connection, and that the server is reachable"
        raise LogiDataTaskError(
            f"{owner}: cannot connect to PostgreSQL through connection {conn_id!r} ({_where(args)}): "
            f"{cause}; {fix}"
        ) from None
    try:
        # UTC and ISO formats make the text PostgreSQL sends and reads unambiguous.
        con.execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
            "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET standard_conforming_strings = on; "
            "SET client_encoding = 'UTF8'"
        )
        yield con
    finally:
        con.close()


# How often a busy backend checks that its client is still connected (PostgreSQL 14+, in milliseconds).
CLIENT_CHECK_MS = 1000
# A preview's statement_timeout is its time limit plus this: the pool kills the worker at the limit (and
# answers 504, naming what ran); the server ends the statement shortly after even if it never learns that
# its client is gone.
PREVIEW_GRACE_SECONDS = 2.0


def statement_timeout_seconds() -> float:
    """How long one statement of a source query may run: in a preview worker the preview's time limit
    (plus ``PREVIEW_GRACE_SECONDS``), in a run ``[logidata] source_statement_timeout`` (0: no limit of
    LogiData's)."""
    from airflow_provider_logidata.preview import pool

    if pool.in_worker():
        limit = pool.job_time_limit()
        return (settings.preview_timeout() if limit is None else limit) + PREVIEW_GRACE_SECONDS
    return settings.source_statement_timeout()


def confine(con: psycopg.Connection[Any], *, seconds: float, read_only: bool = True) -> None:
    """Bound the current transaction (call it first inside ``con.transaction()``); settings end with it.

    ``read_only``: ``SET TRANSACTION READ ONLY`` (PostgreSQL then refuses INSERT/UPDATE/DELETE on real
    tables, DDL, ``nextval``, ...). ``seconds``: ``SET LOCAL statement_timeout`` (0 leaves the server's,
    role's or database's own setting alone).

    Why a query cannot outlive its preview or its worker: a preview worker is killed with SIGKILL at the
    preview's time limit (``preview.pool``), and a run's worker may die too; nothing of the killed process
    can then cancel its query. Two server-side settings stop it instead, whatever happens to the client:
    ``statement_timeout``, which a preview sets to its own time limit (plus ``PREVIEW_GRACE_SECONDS``, so
    that the pool's 504 comes first), ends the running statement by then at the latest; and
    ``client_connection_check_interval`` (PostgreSQL 14+, settable by any role) makes the backend poll its
    socket every ``CLIENT_CHECK_MS`` while it executes, so the backend of a killed process (its socket
    closed by the kernel) stops its query and exits within about a second, even a ``pg_sleep`` or a long
    scan. Neither needs the api-server to reach the database, hold credentials or even survive, which a
    cancel sent from the api-server (``pg_cancel_backend`` of a pid reported by the worker) would.
    """
    if read_only:
        con.execute("SET TRANSACTION READ ONLY")
    if seconds > 0:
        milliseconds = max(1, int(seconds * 1000))
        con.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(milliseconds)))
    if con.info.server_version >= 140000:
        con.execute(
            sql.SQL("SET LOCAL client_connection_check_interval = {}").format(sql.Literal(CLIENT_CHECK_MS))
        )


def warn_about_role(con: psycopg.Connection[Any], conn_id: str, owner: str, log: TaskLog) -> None:
    """Warn (task log, and the preview's answer inside a preview worker) when the connection's role is a
    superuser or may reach server files (``engine.pg_checks``)."""
    from airflow_provider_logidata.engine.pg_checks import role_warning
    from airflow_provider_logidata.preview.pool import report_warning

    warning = role_warning(con, conn_id)
    if warning is not None:
        log.warning(f"{owner}: {warning}")
        report_warning(f"{owner}: {warning}")


def _first_line(error: BaseException) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(error).strip() or type(error).__name__
    return text.splitlines()[0].strip()


def pg_error(error: psycopg.Error) -> str:
    """The error's message with PostgreSQL's detail and hint, on one line."""
    parts = [_first_line(error)]
    diag = error.diag
    for extra in (diag.message_detail, diag.message_hint):
        if extra:
            parts.append(extra.strip())
    return ". ".join(part.rstrip(".") for part in parts)


def confinement_error(error: psycopg.Error, owner: str, described: str) -> LogiDataTaskError | None:
    """The message for a query stopped by ``confine`` (time limit, read-only), else ``None``."""
    if error.sqlstate == "57014" and "statement timeout" in str(error):
        from airflow_provider_logidata.preview import pool

        seconds = statement_timeout_seconds()
        if pool.in_worker():
            return LogiDataTaskError(
                f"{owner}: PostgreSQL stopped reading {described}: it ran longer than the preview's time "
                f"limit ({seconds:g} s, [logidata] preview_timeout); add a filter or preview fewer rows"
            )
        return LogiDataTaskError(
            f"{owner}: PostgreSQL stopped reading {described}: it ran longer than [logidata] "
            f"source_statement_timeout ({seconds:g} s); make the query faster (a filter, an index) or raise "
            "source_statement_timeout (0: no limit)"
        )
    if error.sqlstate == "25006":
        return LogiDataTaskError(
            f"{owner}: {described} tried to write ({pg_error(error)}); a source query runs in a read-only "
            "transaction: it may only read. Write with a destination"
        )
    return None


def query_failed(error: psycopg.Error, owner: str, described: str, message: str) -> LogiDataTaskError:
    """The error to raise for a failed query: ``confine``'s own reason, else ``message``."""
    return confinement_error(error, owner, described) or LogiDataTaskError(message)
