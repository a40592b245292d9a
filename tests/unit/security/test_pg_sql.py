"""security.pg_sql: the PostgreSQL function deny list and the one-SELECT rule, as tables of SQL texts.

Each refused text names the function it calls; the refusal must name it too and carry the rule. The
allowed texts are ordinary queries and expressions that must keep working (lower, date_trunc, coalesce,
now(), generate_series, pg_sleep, and names that only look like denied functions: strings, comments,
columns). The same functions are refused against a real server in tests/unit/engine/test_pg_confinement.py.
"""

from __future__ import annotations

import re

import pytest

from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig, check_select
from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.pg_functions import denied
from airflow_provider_logidata.security.pg_sql import check_pg_select, check_pg_sql

# (query, the function the refusal names)
REFUSED_QUERIES: list[tuple[str, str]] = [
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("select PG_READ_FILE('/etc/passwd')", "pg_read_file"),
    ("SELECT pg_read_binary_file('/etc/passwd')", "pg_read_binary_file"),
    ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir"),
    ("SELECT * FROM pg_catalog.pg_ls_dir('/') AS t(name)", "pg_catalog.pg_ls_dir"),
    ("SELECT * FROM pg_ls_logdir()", "pg_ls_logdir"),
    ("SELECT * FROM pg_ls_waldir()", "pg_ls_waldir"),
    ("SELECT * FROM pg_ls_tmpdir()", "pg_ls_tmpdir"),
    ("SELECT * FROM pg_ls_archive_statusdir()", "pg_ls_archive_statusdir"),
    ("SELECT * FROM pg_ls_something_new()", "pg_ls_something_new"),
    ("SELECT (pg_stat_file('/etc/passwd')).size", "pg_stat_file"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT lo_export(16400, '/tmp/x')", "lo_export"),
    ("SELECT pg_catalog.lo_export(16400, '/tmp/x')", "pg_catalog.lo_export"),
    ("SELECT \"lo_export\"(16400, '/tmp/x')", "lo_export"),
    ("SELECT pg_catalog.\"LO_EXPORT\"(16400, '/tmp/x')", "pg_catalog.LO_EXPORT"),
    ("SELECT Lo_From_Bytea(0, 'x'::bytea)", "lo_from_bytea"),
    ("SELECT PG_CATALOG.LO_GET(16400)", "pg_catalog.lo_get"),
    ("SELECT lo_get(16400)", "lo_get"),
    ("SELECT lo_put(16400, 0, 'x')", "lo_put"),
    ("SELECT lo_unlink(16400)", "lo_unlink"),
    ("SELECT lo_create(0)", "lo_create"),
    ("SELECT loread(lo_open(16400, 262144), 10)", "loread"),
    ("SELECT * FROM dblink('host=10.0.0.1', 'SELECT 1') AS t(x int)", "dblink"),
    ("SELECT dblink_exec('host=10.0.0.1', 'DROP TABLE t')", "dblink_exec"),
    ("SELECT dblink_connect('c', 'host=x')", "dblink_connect"),
    ("SELECT postgres_fdw_disconnect_all()", "postgres_fdw_disconnect_all"),
    ("SELECT pg_file_write('/tmp/x', 'data', false)", "pg_file_write"),
    ("SELECT * FROM pg_logdir_ls()", "pg_logdir_ls"),
    ("SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, false, '')", "query_to_xml"),
    ("SELECT cursor_to_xml('c', 1, true, false, '')", "cursor_to_xml"),
    ("SELECT query_to_xmlschema('SELECT 1', true, false, '')", "query_to_xmlschema"),
    ("SELECT * FROM ts_stat('SELECT to_tsvector(x) FROM t')", "ts_stat"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend"),
    ("SELECT pg_cancel_backend(123)", "pg_cancel_backend"),
    ("SELECT pg_reload_conf()", "pg_reload_conf"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
    ("SELECT pg_promote()", "pg_promote"),
    ("SELECT pg_switch_wal()", "pg_switch_wal"),
    ("SELECT pg_create_restore_point('x')", "pg_create_restore_point"),
    ("SELECT pg_backup_start('x')", "pg_backup_start"),
    ("SELECT pg_create_logical_replication_slot('s', 'test_decoding')", "pg_create_logical_replication_slot"),
    ("SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", "pg_logical_slot_get_changes"),
    ("SELECT pg_drop_replication_slot('s')", "pg_drop_replication_slot"),
    ("SELECT set_config('log_statement', 'none', false)", "set_config"),
    ("SELECT pg_notify('ch', 'payload')", "pg_notify"),
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
    ("SELECT pg_try_advisory_xact_lock(1)", "pg_try_advisory_xact_lock"),
    ("SELECT pg_import_system_collations('pg_catalog')", "pg_import_system_collations"),
    ("SELECT pg_log_backend_memory_contexts(pg_backend_pid())", "pg_log_backend_memory_contexts"),
    ("SELECT * FROM pg_hba_file_rules()", "pg_hba_file_rules"),
    ("SELECT pg_stat_reset()", "pg_stat_reset"),
    # nested: CTE, subquery, CASE, lateral, ROWS FROM, function arguments, casts, comments around the call
    ("WITH f AS (SELECT pg_read_file('/etc/passwd') AS t) SELECT * FROM f", "pg_read_file"),
    ("SELECT * FROM (SELECT lo_from_bytea(0, 'x') AS o) AS s", "lo_from_bytea"),
    ("SELECT CASE WHEN 1 = 1 THEN pg_read_file('/etc/passwd') END", "pg_read_file"),
    ("SELECT t.* FROM (VALUES (1)) v(x), LATERAL pg_ls_dir('/') AS t", "pg_ls_dir"),
    ("SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir('/'))", "pg_ls_dir"),
    ("SELECT length(coalesce(pg_read_file('/etc/passwd'), ''))", "pg_read_file"),
    ("SELECT pg_read_file('/etc/passwd')::text AS x", "pg_read_file"),
    ("SELECT pg_read_file /* a comment */ ('/etc/passwd')", "pg_read_file"),
    ("SELECT 1 WHERE EXISTS (SELECT pg_read_file('/etc/passwd'))", "pg_read_file"),
    ("SELECT x FROM (VALUES (1)) v(x) UNION ALL SELECT lo_unlink(1)", "lo_unlink"),
    # attribute notation: x.f is f(x)
    ("SELECT ('/etc/passwd'::text).pg_read_file", "pg_read_file"),
    ("SELECT (p).lo_get FROM (SELECT 16400::oid AS p) s", "lo_get"),
    # Unicode-escaped identifiers, with and without UESCAPE
    ("SELECT U&\"pg_read\\005ffile\"('/etc/passwd')", "pg_read_file"),
    ("SELECT U&\"lo!005fexport\" UESCAPE '!' (1, '/tmp/x')", "lo_export"),
]

# (statement, what the message says)
REFUSED_STATEMENTS: list[tuple[str, str]] = [
    ("COPY (SELECT 1) TO PROGRAM 'id'", "not COPY"),
    ("COPY t FROM PROGRAM 'curl http://x'", "not COPY"),
    ("DO $$ BEGIN PERFORM pg_sleep(1); END $$", "not DO"),
    ("CALL do_things()", "not CALL"),
    ("SET work_mem = '1GB'", "not SET"),
    ("ALTER SYSTEM SET log_statement = 'none'", "not ALTER SYSTEM"),
    ("SELECT 1; SELECT 2", "exactly one SELECT statement, found 2"),
    ("DELETE FROM t", "not DELETE"),
    ("SELECT * INTO t2 FROM t", "SELECT ... INTO"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "must only read"),
    ("SELEC 1", "not valid PostgreSQL SQL"),
]

ALLOWED_QUERIES = [
    "SELECT lower(name), upper(name), date_trunc('day', created_at), coalesce(a, 0), now() FROM t",
    "SELECT * FROM generate_series(1, 10) AS g(i)",
    "SELECT pg_sleep(1)",
    "SELECT x FROM pg_sleep(0.1), (VALUES (1)) AS v(x)",
    "SELECT current_date, extract(year FROM now()), substring('abc' FROM 1 FOR 2), left('a', 1)",
    "SELECT 'lo_export(1, ''/tmp/x'')' AS text_mentioning_a_function",
    "SELECT $$pg_read_file('/etc/passwd')$$ AS dollar_quoted",
    "SELECT E'\\'pg_read_file(' AS escaped",
    "SELECT 1 AS x -- pg_read_file('/etc/passwd')",
    "SELECT 1 /* lo_export(1, '/tmp/x') */ AS x",
    "SELECT t.lo_limit, t.lo_value, t.dblink_name FROM t",
    "SELECT count(*), sum(amount) FILTER (WHERE status = 'ok') FROM orders GROUP BY 1",
    "WITH a AS (SELECT 1 AS x) SELECT x FROM a UNION SELECT 2",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT pg_backend_pid(), current_user, version(), current_setting('TimeZone')",
    "SELECT * FROM t WHERE created_at >= '{{ ds }}'",
    "SELECT row_number() OVER (ORDER BY id), lag(id) OVER () FROM t;",
]

REFUSED_EXPRESSIONS: list[tuple[str, str, str]] = [
    ("lo_export(1, '/tmp/x') IS NULL", "duckdb", "lo_export"),
    ("pg_read_file('/etc/passwd') <> ''", "postgres", "pg_read_file"),
    ("\"PG_LS_DIR\"('/') IS NOT NULL", "postgres", "PG_LS_DIR"),
    ("amount > 0 AND set_config('a', 'b', false) = 'b'", "duckdb", "set_config"),
    ("CASE WHEN x > 0 THEN dblink('h', 'q') END", "postgres", "dblink"),
    ("nextval('s')", "postgres", "nextval"),
    ("setval('s', 1)", "duckdb", "setval"),
    ("x.pg_read_file", "postgres", "pg_read_file"),
]

ALLOWED_EXPRESSIONS: list[tuple[str, str]] = [
    ("amount > 0 AND status <> 'test'", "duckdb"),
    ("lower(name) || '-' || coalesce(city, '?')", "duckdb"),
    ("date_trunc('month', created_at)", "postgres"),
    ("CAST(price AS DOUBLE) * quantity", "duckdb"),
    ("name = 'pg_read_file(x)'", "postgres"),
]


@pytest.mark.parametrize(("query", "function"), REFUSED_QUERIES)
def test_refused_queries(query: str, function: str) -> None:
    with pytest.raises(PolicyError) as raised:
        check_pg_sql(query, kind="query")
    assert raised.value.rule == "pg-function"
    message = str(raised.value)
    assert f"function {function}()" in message
    assert "is not allowed in a pipeline's PostgreSQL SQL: it " in message  # then why
    assert "Remove it from the query" in message and "least-privilege role" in message


def test_refused_table_is_large_enough() -> None:
    assert len(REFUSED_QUERIES) >= 30


@pytest.mark.parametrize(("query", "function"), REFUSED_QUERIES[:12])
def test_source_validation_refuses_them(query: str, function: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=rf"function {re.escape(function)}\(\) is not allowed"):
        PostgresSourceConfig.model_validate({"conn_id": "c", "query": query})
    with pytest.raises(ValueError, match="is not allowed"):
        check_select(query)


@pytest.mark.parametrize(("statement", "message"), REFUSED_STATEMENTS)
def test_refused_statements(statement: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(".", r"\.")) as raised:
        check_pg_sql(statement, kind="query")
    assert raised.value.rule in ("pg-statement", "pg-syntax")


@pytest.mark.parametrize("query", ALLOWED_QUERIES)
def test_allowed_queries(query: str) -> None:
    check_pg_sql(query, kind="query")


def test_check_select_strips_trailing_semicolons() -> None:
    assert check_pg_select("SELECT 1 ;; ") == "SELECT 1"
    assert check_select("SELECT pg_sleep(1);") == "SELECT pg_sleep(1)"


@pytest.mark.parametrize(("expression", "dialect", "function"), REFUSED_EXPRESSIONS)
def test_refused_expressions(expression: str, dialect: str, function: str) -> None:
    with pytest.raises(PolicyError, match=rf"function {function}\(\)") as raised:
        check_pg_sql(expression, kind="expression", dialect=dialect)
    assert raised.value.rule == "pg-function"
    assert "Remove it from the expression" in str(raised.value)


@pytest.mark.parametrize(("expression", "dialect"), ALLOWED_EXPRESSIONS)
def test_allowed_expressions(expression: str, dialect: str) -> None:
    check_pg_sql(expression, kind="expression", dialect=dialect)


def test_templated_query_checks_functions_now_and_statement_once_rendered() -> None:
    # A template may make the text unparseable until rendered: no syntax refusal, but functions are seen.
    check_pg_sql("SELECT * FROM {{ params.table }} WHERE d = '{{ ds }}'", kind="query")
    with pytest.raises(PolicyError, match=r"function pg_read_file\(\)"):
        check_pg_sql("SELECT pg_read_file('{{ params.path }}')", kind="query")
    with pytest.raises(ValueError, match=r"function lo_export\(\)"):
        PostgresSourceConfig.model_validate({"conn_id": "c", "query": "SELECT lo_export(1, '/tmp/{{ ds }}')"})


def test_sequences_are_left_to_the_read_only_transaction_in_queries() -> None:
    # A source query runs read-only, which refuses nextval itself (tests/unit/engine); an expression may
    # run in the ELT task's read-write INSERT ... SELECT, so it is refused there.
    check_pg_sql("SELECT nextval('s')", kind="query")
    with pytest.raises(PolicyError, match=r"changes a sequence"):
        check_pg_sql("nextval('s') > 0", kind="expression")
    # A source query ELT pushes into its read-write INSERT ... SELECT is checked as writable.
    with pytest.raises(PolicyError, match=r"function setval\(\)"):
        check_pg_sql("SELECT setval('s', 1)", kind="query", writable=True)
    with pytest.raises(ValueError, match=r"function nextval\(\)"):
        check_select("SELECT nextval('s')", writable=True)


def test_denied_families() -> None:
    assert denied("pg_ls_whatever") and denied("lo_something_new") and denied("dblink_anything")
    assert denied("LO_EXPORT") and denied("Pg_Read_File")
    # attribute notation (no parentheses) matches exact names and distinctive families only
    assert denied("lo_limit", called=False) is None and denied("lo_get", called=False)
    assert denied("pg_ls_dir", called=False) and denied("dblink", called=False)
    for allowed in ("lower", "date_trunc", "coalesce", "now", "generate_series", "pg_sleep", "count"):
        assert denied(allowed) is None


def test_unreadable_text_is_refused_for_queries() -> None:
    with pytest.raises(PolicyError, match="not valid PostgreSQL SQL") as raised:
        check_pg_sql("SELECT (((", kind="query")
    assert raised.value.rule == "pg-syntax"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT rolname, rolpassword FROM pg_authid",
        'SELECT * FROM pg_catalog."pg_authid"',
        "SELECT usename, passwd FROM pg_shadow",
        "SELECT * FROM pg_user_mappings",
        "SELECT * FROM pg_hba_file_rules",
        "SELECT * FROM pg_file_settings",
        "SELECT query FROM pg_stat_activity",
        "SELECT query FROM pg_stat_statements",
        "WITH a AS (SELECT * FROM PG_AUTHID) SELECT * FROM a",
    ],
)
def test_catalogs_with_credentials_are_refused(query: str) -> None:
    with pytest.raises(PolicyError) as refused:
        check_pg_sql(query, kind="query")
    assert refused.value.rule == "pg-relation"


@pytest.mark.parametrize(
    ("config", "ok"),
    [
        ({"conn_id": "c", "table": "orders"}, True),
        ({"conn_id": "c", "table": "pg_class", "schema": "pg_catalog"}, True),  # reading metadata is fine
        ({"conn_id": "c", "table": "pg_authid", "schema": "pg_catalog"}, False),
        ({"conn_id": "c", "table": "PG_SHADOW"}, False),
    ],
)
def test_source_tables_holding_credentials_are_refused(config: dict[str, str], ok: bool) -> None:
    from pydantic import ValidationError

    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    if ok:
        PostgresSourceConfig.model_validate(config)
    else:
        with pytest.raises(ValidationError, match="password hashes"):
            PostgresSourceConfig.model_validate(config)


@pytest.mark.parametrize(
    "schema", ["pg_catalog", "information_schema", "pg_toast", "PG_CATALOG", "pg_temp_3"]
)
def test_destinations_never_write_system_schemas(schema: str) -> None:
    from pydantic import ValidationError

    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

    with pytest.raises(ValidationError, match="own catalogs"):
        PostgresDestinationConfig.model_validate({"conn_id": "c", "table": "pg_class", "schema": schema})
    PostgresDestinationConfig.model_validate({"conn_id": "c", "table": "orders", "schema": "analytics"})
