"""What a PostgreSQL connection's role may do beyond reading and writing tables: the superuser warning.

A pipeline's SQL runs with the privileges of the connection's role. LogiData refuses the functions it
knows to reach the server's files, processes and other servers (``security.pg_sql``) and runs source
queries read-only, but a superuser bypasses every privilege check, and members of
``pg_read_server_files``, ``pg_write_server_files`` and ``pg_execute_server_program`` may read and write
server files. Such a connection is allowed (an admin may have reasons) but warned about, in the task log
of runs and in the builder's preview answer, so that it is replaced by a least-privilege role.
"""

from __future__ import annotations

import contextlib
from typing import Any

# Predefined roles (PostgreSQL 11+) that reach the server's files or programs.
SERVER_FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")


def is_superuser(con: Any) -> bool:
    """Whether the session's role is a superuser.

    PostgreSQL reports ``is_superuser`` to the client at login (and on ``SET ROLE``), so no query is
    needed; the catalog answers otherwise.
    """
    reported = None
    with contextlib.suppress(Exception):
        reported = con.info.parameter_status("is_superuser")
    if reported is not None:
        return str(reported).strip().lower() == "on"
    row = con.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


def server_file_roles(con: Any) -> list[str]:
    """The predefined roles reaching server files or programs the session's role is a member of."""
    try:
        rows = con.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) "
            "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname",
            (list(SERVER_FILE_ROLES),),
        ).fetchall()
    except Exception:  # an old server or a catalog the role may not read: no claim either way
        return []
    return [str(row[0]) for row in rows]


def role_warning(con: Any, conn_id: str) -> str | None:
    """A warning when the connection's role is a superuser or may reach server files; ``None`` otherwise.

    Call it outside a transaction or where a failed query does not matter (it never raises).
    """
    try:
        user = con.info.parameter_status("session_authorization") or con.info.user
    except Exception:
        user = None
    who = f"as {user!r}" if user else "as a role"
    try:
        if is_superuser(con):
            return (
                f"the connection {conn_id!r} logs in to PostgreSQL {who}, a superuser: a superuser "
                "bypasses every privilege, so a pipeline's SQL could reach the database server's files, "
                "programs and other servers (LogiData refuses the functions it knows, but cannot know every "
                "one). Give the connection a role that may only read (sources) or write (destinations) the "
                "tables the pipelines need"
            )
        roles = server_file_roles(con)
    except Exception:
        return None
    if roles:
        return (
            f"the connection {conn_id!r} logs in to PostgreSQL {who}, a member of {', '.join(roles)}: a "
            "pipeline's SQL could read or write files on the database server. Give the connection a role "
            "without these memberships"
        )
    return None
