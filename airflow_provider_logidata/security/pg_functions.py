"""The PostgreSQL functions and relations a pipeline's SQL may not name, and why each is refused.

Exact names, families matched by prefix (with or without parentheses) and the system relations that hold
credentials or other sessions' statements; ``security.pg_sql`` finds them in the SQL's tokens and tree.
Pure data and string tests: no sqlglot here.
"""

from __future__ import annotations

import functools
import re

# Why each function is refused, by group; the message says it after "it".
_FILES = "reads or writes files on the database server"
_LARGE_OBJECTS = "reads or writes large objects, and through them files, on the database server"
_REMOTE = "connects to other database servers"
_TEXT_QUERY = "runs a query given as text, which no check of the pipeline can see"
_PROCESSES = "signals other server processes (cancels or terminates their sessions)"
_CONFIG = "reads or changes the database server's configuration"
_SERVER = "controls the server's WAL, backups, replication or catalogs"
_LOCKS = "takes advisory locks that can outlive the query and block other sessions"
_NOTIFY = "sends notifications to other sessions"
_SEQUENCES = "changes a sequence (a pipeline's SQL may only read)"
_STATISTICS = "resets the server's statistics"

# Exact names (PostgreSQL 15's catalog, its contrib modules dblink, postgres_fdw, adminpack, tablefunc,
# pg_stat_statements, lo, and the pre-10 names of renamed functions).
_EXACT: dict[str, str] = {
    **dict.fromkeys(
        (
            "pg_read_file",
            "pg_read_file_old",
            "pg_read_binary_file",
            "pg_stat_file",
            "pg_ls_dir",
            "pg_ls_logdir",
            "pg_ls_waldir",
            "pg_ls_tmpdir",
            "pg_ls_archive_statusdir",
            "pg_ls_logicalmapdir",
            "pg_ls_logicalsnapdir",
            "pg_ls_replslotdir",
            "pg_logdir_ls",
            "pg_file_write",
            "pg_file_rename",
            "pg_file_unlink",
            "pg_file_sync",
            "pg_file_read",
            "pg_file_length",
            "pg_rotate_logfile",
            "pg_rotate_logfile_old",
            "pg_current_logfile",
        ),
        _FILES,
    ),
    **dict.fromkeys(
        (
            "lo_import",
            "lo_export",
            "lo_from_bytea",
            "lo_get",
            "lo_put",
            "lo_unlink",
            "lo_create",
            "lo_creat",
            "lo_open",
            "lo_close",
            "lo_lseek",
            "lo_lseek64",
            "lo_tell",
            "lo_tell64",
            "lo_truncate",
            "lo_truncate64",
            "loread",
            "lowrite",
            "lo_manage",
        ),
        _LARGE_OBJECTS,
    ),
    **dict.fromkeys(
        (
            "dblink",
            "dblink_exec",
            "dblink_connect",
            "dblink_connect_u",
            "dblink_disconnect",
            "dblink_open",
            "dblink_fetch",
            "dblink_close",
            "dblink_send_query",
            "dblink_get_result",
            "dblink_get_connections",
            "dblink_is_busy",
            "dblink_cancel_query",
            "dblink_error_message",
            "dblink_get_notify",
            "dblink_get_pkey",
            "dblink_build_sql_insert",
            "dblink_build_sql_update",
            "dblink_build_sql_delete",
            "postgres_fdw_get_connections",
            "postgres_fdw_disconnect",
            "postgres_fdw_disconnect_all",
        ),
        _REMOTE,
    ),
    **dict.fromkeys(
        (
            "query_to_xml",
            "query_to_xmlschema",
            "query_to_xml_and_xmlschema",
            "cursor_to_xml",
            "cursor_to_xmlschema",
            "ts_stat",
            "ts_rewrite",
            "crosstab",
            "crosstab2",
            "crosstab3",
            "crosstab4",
            "connectby",
        ),
        _TEXT_QUERY,
    ),
    **dict.fromkeys(
        ("pg_terminate_backend", "pg_cancel_backend", "pg_log_backend_memory_contexts"),
        _PROCESSES,
    ),
    **dict.fromkeys(
        (
            "set_config",
            "pg_reload_conf",
            "pg_hba_file_rules",
            "pg_ident_file_mappings",
            "pg_show_all_file_settings",
            "pg_config",
        ),
        _CONFIG,
    ),
    **dict.fromkeys(
        (
            "pg_promote",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_create_restore_point",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_xlog_replay_pause",
            "pg_xlog_replay_resume",
            "pg_create_physical_replication_slot",
            "pg_create_logical_replication_slot",
            "pg_drop_replication_slot",
            "pg_copy_physical_replication_slot",
            "pg_copy_logical_replication_slot",
            "pg_replication_slot_advance",
            "pg_logical_slot_get_changes",
            "pg_logical_slot_peek_changes",
            "pg_logical_slot_get_binary_changes",
            "pg_logical_slot_peek_binary_changes",
            "pg_logical_emit_message",
            "pg_replication_origin_create",
            "pg_replication_origin_drop",
            "pg_replication_origin_advance",
            "pg_replication_origin_session_setup",
            "pg_replication_origin_session_reset",
            "pg_replication_origin_xact_setup",
            "pg_replication_origin_xact_reset",
            "pg_import_system_collations",
            "pg_extension_config_dump",
            "pg_nextoid",
            "pg_stop_making_pinned_objects",
            "brin_summarize_new_values",
            "brin_summarize_range",
            "brin_desummarize_range",
            "gin_clean_pending_list",
        ),
        _SERVER,
    ),
    **dict.fromkeys(
        (
            "pg_advisory_lock",
            "pg_advisory_lock_shared",
            "pg_advisory_unlock",
            "pg_advisory_unlock_shared",
            "pg_advisory_unlock_all",
            "pg_advisory_xact_lock",
            "pg_advisory_xact_lock_shared",
            "pg_try_advisory_lock",
            "pg_try_advisory_lock_shared",
            "pg_try_advisory_xact_lock",
            "pg_try_advisory_xact_lock_shared",
        ),
        _LOCKS,
    ),
    "pg_notify": _NOTIFY,
    **dict.fromkeys(
        (
            "pg_stat_reset",
            "pg_stat_reset_shared",
            "pg_stat_reset_single_table_counters",
            "pg_stat_reset_single_function_counters",
            "pg_stat_reset_slru",
            "pg_stat_reset_replication_slot",
            "pg_stat_reset_subscription_stats",
            "pg_stat_statements_reset",
        ),
        _STATISTICS,
    ),
}

# Refused only in SQL that may run in a read-write transaction (expressions, pushed into the ELT task's
# INSERT ... SELECT, and a source query pushed down there too), where a sequence would really change; a
# source query read by the ETL engine or a preview runs read-only, and PostgreSQL refuses them itself.
_WRITABLE_ONLY: dict[str, str] = {"nextval": _SEQUENCES, "setval": _SEQUENCES}

# Families: any function whose name starts with one of these, when called with parentheses (other
# versions and extensions add members: pg_ls_*, lo_*, dblink_*, ...).
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pg_read_", _FILES),
    ("pg_ls_", _FILES),
    ("pg_file_", _FILES),
    ("pg_rotate_logfile", _FILES),
    ("lo_", _LARGE_OBJECTS),
    ("dblink", _REMOTE),
    ("postgres_fdw", _REMOTE),
    ("query_to_xml", _TEXT_QUERY),
    ("cursor_to_xml", _TEXT_QUERY),
    ("crosstab", _TEXT_QUERY),
    ("pg_advisory_", _LOCKS),
    ("pg_try_advisory_", _LOCKS),
    ("pg_logical_", _SERVER),
    ("pg_replication_", _SERVER),
    ("pg_wal_replay_", _SERVER),
    ("pg_xlog_replay_", _SERVER),
    ("pg_backup_", _SERVER),
    ("binary_upgrade_", _SERVER),
    ("pg_stat_reset", _STATISTICS),
    ("pg_stat_statements_reset", _STATISTICS),
)
# Families also matched without parentheses (attribute notation): names no column would have. ``lo_``
# and ``dblink`` are not among them (columns ``t.lo_limit``, ``t.dblink_name`` must stay usable); their
# members are listed exactly above.
_ATTRIBUTE_PREFIXES = tuple(
    (prefix, why)
    for prefix, why in _PREFIXES
    if prefix not in ("lo_", "dblink", "crosstab", "pg_backup_", "postgres_fdw")
)

# System catalogs and views that hold credentials, the server's configuration files or other sessions'
# statements: readable through a superuser connection, and never data a pipeline should move. Refused
# wherever the name appears (any identifier, quoted or qualified: the names are distinctive).
_CREDENTIALS = "holds the server's password hashes or foreign-server credentials"
_SERVER_FILES = "shows the server's configuration files"
_SESSIONS = "shows other sessions' statements (which may hold passwords)"
DENIED_RELATIONS: dict[str, str] = {
    "pg_authid": _CREDENTIALS,
    "pg_shadow": _CREDENTIALS,
    "pg_user_mapping": _CREDENTIALS,
    "pg_user_mappings": _CREDENTIALS,
    "pg_hba_file_rules": _SERVER_FILES,
    "pg_ident_file_mappings": _SERVER_FILES,
    "pg_file_settings": _SERVER_FILES,
    "pg_config": _SERVER_FILES,
    "pg_stat_activity": _SESSIONS,
    "pg_stat_statements": _SESSIONS,
    "pg_stat_statements_info": _SESSIONS,
}


def denied(name: str, *, called: bool = True, writable: bool = True) -> str | None:
    """Why the function ``name`` is refused (``None``: allowed); ``called``: written with parentheses;
    ``writable``: the SQL may run in a read-write transaction (see ``_WRITABLE_ONLY``)."""
    lowered = name.lower()
    why = _EXACT.get(lowered) or (_WRITABLE_ONLY.get(lowered) if writable else None)
    if why is not None:
        return why
    for prefix, reason in _PREFIXES if called else _ATTRIBUTE_PREFIXES:
        if lowered.startswith(prefix):
            return reason
    return None


@functools.cache
def _denied_words() -> re.Pattern[str]:
    """Any denied function, family prefix or relation, as a plain substring (case-insensitive)."""
    words = {*_EXACT, *_WRITABLE_ONLY, *DENIED_RELATIONS, *(prefix for prefix, _ in _PREFIXES)}
    return re.compile("|".join(sorted(map(re.escape, words), key=len, reverse=True)), re.IGNORECASE)


def may_name_a_denied(text: str) -> bool:
    """Whether ``text`` could call or read anything denied: a denied name must appear in it literally
    (quoted, qualified or in attribute notation alike), except through a Unicode-escaped identifier
    (``U&"..."``), which always gets the full check."""
    return _denied_words().search(text) is not None or "u&" in text.lower()
