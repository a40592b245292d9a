"""PostgreSQL confinement against the suite's real server, through a superuser connection (the worst case).

Proven here:
* a source query calling a function that reaches the server's files is refused at validation, and again at
  run time when the validator is bypassed (the engine is called directly), with nothing created, written or
  read: no large object, no file at lo_export's target, no file content in any output or message;
* underneath that check, source queries run in a READ ONLY transaction that is rolled back, with
  statement_timeout and client_connection_check_interval set: writes fail, a large object a missed
  function would create is undone, a long query is stopped, and the backend of a killed client stops;
* the ELT executor re-checks every user expression it puts into SQL and the source query it pushes down,
  runs each look at them read-only, and bounds its statement;
* a preview that times out (the pool kills its worker) leaves no backend running its query;
* the superuser warning: in the task log of sources and destinations, and in the preview's answer; not for
  a plain login role.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine import elt, elt_context, pg_connect, pg_load, pg_read
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import specs

# (query, the function refused) for the real-server table: each one would do real harm as a superuser.
LO_TARGET = f"/tmp/logidata-lo-export-{uuid.uuid4().hex}"
DANGEROUS = [
    ("SELECT lo_from_bytea(0, 'planted'::bytea) AS o", "lo_from_bytea"),
    (f"SELECT lo_export(lo_from_bytea(0, 'planted'::bytea), '{LO_TARGET}') AS o", "lo_export"),
    ("SELECT pg_read_file('/etc/hostname') AS secret", "pg_read_file"),
    ("SELECT pg_read_binary_file('/etc/hostname') AS secret", "pg_read_binary_file"),
    ("SELECT lo_import('/etc/hostname') AS o", "lo_import"),
    ("SELECT * FROM pg_ls_dir('/') AS t(name)", "pg_ls_dir"),
    ("SELECT pg_catalog.pg_stat_file('/etc/hostname') AS s", "pg_catalog.pg_stat_file"),
    ("SELECT \"pg_read_file\"('/etc/hostname') AS secret", "pg_read_file"),
    ("SELECT ('/etc/hostname'::text).pg_read_file AS secret", "pg_read_file"),
    ("WITH x AS (SELECT pg_read_file('/etc/hostname') AS s) SELECT * FROM x", "pg_read_file"),
    ("SELECT query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, false, '') AS x", "query_to_xml"),
    ("SELECT set_config('default_transaction_read_only', 'off', false) AS s", "set_config"),
    ("SELECT pg_terminate_backend(pg_backend_pid()) AS t", "pg_terminate_backend"),
]


def bypassed(conn_id: str, query: str) -> PostgresSourceConfig:
    """A source config built without validation: what a run would see if the validator were bypassed."""
    return PostgresSourceConfig.model_construct(conn_id=conn_id, query=query)


def large_objects(pg: Any) -> int:
    return int(pg.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0])


def hostname() -> str:
    return Path("/etc/hostname").read_text().strip()


@pytest.mark.parametrize(("query", "function"), DANGEROUS)
def test_dangerous_source_query_is_refused_at_validation_and_at_run_time(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, query: str, function: str
) -> None:
    before = large_objects(pg)
    with pytest.raises(ValidationError, match=rf"function {re.escape(function)}\(\).* is not allowed"):
        PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "query": query})
    output = tmp_path / "src" / "part-00000.parquet"
    with pytest.raises(LogiDataTaskError) as raised:
        pg_read.read_postgres(bypassed(pg_conn_id, query), "src", str(output), log=log)
    message = str(raised.value)
    assert message.startswith("source.postgres node 'src': function ")
    assert f"function {function}()" in message and "is not allowed" in message
    assert "database server" in message or "query given as text" in message or "processes" in message
    assert large_objects(pg) == before  # nothing created
    assert not os.path.exists(LO_TARGET)  # nothing written on the server
    assert not output.exists() and hostname() not in message  # nothing read
    # The preview path (the sampler wraps the query into a LIMIT) refuses it the same way.
    from airflow_provider_logidata.preview.sampling import sample_postgres

    with pytest.raises(LogiDataTaskError, match=rf"function {re.escape(function)}\(\).* is not allowed"):
        sample_postgres({"conn_id": pg_conn_id, "query": query}, "src", 10, "head", None, log)
    assert large_objects(pg) == before and not os.path.exists(LO_TARGET)


@pytest.fixture
def no_statement_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bypass the engine's own statement and function check too: only the transaction is left."""
    from airflow_provider_logidata.security.pg_sql import _strip_semicolons

    monkeypatch.setattr(pg_read, "check_select", lambda query: _strip_semicolons(query).rstrip())


def test_even_unchecked_a_large_object_does_not_survive(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, no_statement_check: None
) -> None:
    before = large_objects(pg)
    # lo_from_bytea is not refused by READ ONLY: the rollback of the source's transaction undoes it.
    handle = pg_read.read_postgres(
        bypassed(pg_conn_id, "SELECT lo_from_bytea(0, 'planted'::bytea) AS o"),
        "src",
        str(tmp_path / "src" / "part-00000.parquet"),
        log=log,
    )
    assert handle["rows"] == 1
    assert large_objects(pg) == before


@pytest.mark.parametrize(
    "query",
    [
        "SELECT nextval('s') AS n",
        "SELECT setval('s', 100) AS n",
        "WITH t AS (SELECT nextval('s') AS n) SELECT n FROM t",
    ],
)
def test_even_unchecked_writes_fail_in_the_read_only_transaction(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, no_statement_check: None, query: str
) -> None:
    pg.execute("CREATE SEQUENCE s")
    with pytest.raises(LogiDataTaskError, match=r"read-only transaction") as raised:
        pg_read.read_postgres(bypassed(pg_conn_id, query), "src", str(tmp_path / "o.parquet"), log=log)
    assert "a source query runs in a read-only transaction: it may only read" in str(raised.value)
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


def test_confine_makes_the_transaction_read_only_and_bounded(pg: Any, pg_conn_id: str, log: Any) -> None:
    before = large_objects(pg)
    with pg_connect.connect(pg_conn_id, owner="test", node_id="src") as con:
        con.read_only = True
        with con.transaction(force_rollback=True):
            pg_connect.confine(con, seconds=7)
            shown = con.execute(
                "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'), "
                "current_setting('client_connection_check_interval')"
            ).fetchone()
            assert shown == ("on", "7s", "1s")
            for statement in ("CREATE TEMP TABLE x (a int)", "CREATE TABLE y (a int)"):
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), con.transaction():
                    con.execute(statement)
            with con.transaction():
                con.execute("SELECT lo_from_bytea(0, 'x'::bytea)")  # not refused by READ ONLY ...
        # ... but undone: the transaction was rolled back, and the settings ended with it.
        assert con.execute("SHOW statement_timeout").fetchone() == ("0",)
    assert large_objects(pg) == before


def test_the_source_transaction_is_really_read_only(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = (
        "SELECT current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS st, "
        "current_setting('client_connection_check_interval') AS cc, "
        "current_setting('transaction_isolation') AS iso"
    )
    config = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "query": query})
    handle = pg_read.read_postgres(config, "src", str(tmp_path / "a.parquet"), log=log)
    import pyarrow.parquet as pq

    assert pq.read_table(handle["uri"]).to_pylist() == [
        {"ro": "on", "st": "1h", "cc": "1s", "iso": "repeatable read"}
    ]
    # 0: LogiData sets no limit; the server's (or role's) own setting applies.
    monkeypatch.setenv("AIRFLOW__LOGIDATA__SOURCE_STATEMENT_TIMEOUT", "0")
    handle = pg_read.read_postgres(config, "src", str(tmp_path / "b.parquet"), log=log)
    assert pq.read_table(handle["uri"]).column("st").to_pylist() == ["0"]


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass (a bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def sleeping_backends(pg: Any, marker: str, *, running: bool = False) -> list[tuple[Any, ...]]:
    """Backends whose (current or last) query mentions ``marker``; ``running``: executing the COPY now."""
    return pg.execute(
        "SELECT pid, application_name, state FROM pg_stat_activity WHERE query LIKE %s "
        "AND pid <> pg_backend_pid()" + (" AND state = 'active' AND query LIKE 'COPY%%'" if running else ""),
        (f"%{marker}%",),
    ).fetchall()


def test_statement_timeout_stops_a_long_source_query(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__SOURCE_STATEMENT_TIMEOUT", "1")
    config = PostgresSourceConfig.model_validate(
        {"conn_id": pg_conn_id, "query": "SELECT x FROM pg_sleep(60.5), (VALUES (1)) AS v(x)"}
    )
    with pytest.raises(LogiDataTaskError) as raised:
        pg_read.read_postgres(config, "src", str(tmp_path / "o.parquet"), log=log)
    message = str(raised.value)
    assert "ran longer than [logidata] source_statement_timeout (1 s)" in message
    assert "raise source_statement_timeout (0: no limit)" in message
    assert wait_until(lambda: not sleeping_backends(pg, "pg_sleep(60.5)"))


KILLED_CLIENT = textwrap.dedent(
    """
    import sys
    from airflow_provider_logidata.engine.pg_read import read_postgres
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    config = PostgresSourceConfig.model_validate(
        {"conn_id": sys.argv[1], "query": "SELECT x FROM pg_sleep(90.25), (VALUES (1)) AS v(x)"}
    )
    read_postgres(config, "sleeper", sys.argv[2])
    """
)


def test_the_backend_of_a_killed_client_stops_its_query(
    pg: Any, pg_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No statement_timeout at all: client_connection_check_interval alone ends the orphaned query."""
    monkeypatch.setenv("AIRFLOW__LOGIDATA__SOURCE_STATEMENT_TIMEOUT", "0")
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, pg_conn_id, str(tmp_path / "o.parquet")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: bool(sleeping_backends(pg, "pg_sleep(90.25)", running=True)), 120), (
            process.poll(),
            process.stderr.read().decode()[-2000:] if process.poll() is not None and process.stderr else "",
        )
        assert sleeping_backends(pg, "pg_sleep(90.25)", running=True)[0][1] == "logidata:sleeper"
        time.sleep(0.5)  # well inside pg_sleep
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    # Without the check the backend would sleep on for 90 s; with it, it notices the closed socket.
    assert wait_until(lambda: not sleeping_backends(pg, "pg_sleep(90.25)"), 30)


# --- ELT ---------------------------------------------------------------------------------------------


def elt_run(conn_id: str, source: PostgresSourceConfig, steps: list[elt.EltStep], log: Any) -> dict:
    return elt.run_elt(
        "read",
        source,
        steps,
        "write",
        PostgresDestinationConfig.model_validate({"conn_id": conn_id, "table": "out"}),
        log=log,
    )


def test_elt_rechecks_the_expressions_it_pushes_down(pg: Any, pg_conn_id: str, log: Any) -> None:
    from airflow_provider_logidata.modules.transforms.filter_rows import FilterRowsConfig

    pg.execute("CREATE TABLE raw (id int, name text); INSERT INTO raw VALUES (1, 'a'), (2, 'b')")
    source = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "raw"})
    before = large_objects(pg)
    for condition, function in [
        ("pg_read_file('/etc/hostname') <> ''", "pg_read_file"),
        ("id > 0 AND lo_from_bytea(0, CAST('x' AS BLOB)) > 0", "lo_from_bytea"),
        ("\"PG_LS_DIR\"('/') IS NOT NULL", "PG_LS_DIR"),
        ("nextval('s') > 0", "nextval"),
    ]:
        step = elt.EltStep("keep", "filter_rows", FilterRowsConfig.model_construct(condition=condition))
        with pytest.raises(LogiDataTaskError) as raised:
            elt_run(pg_conn_id, source, [step], log)
        message = str(raised.value)
        assert message.startswith("filter_rows node 'keep': the condition")
        assert f"function {function}() is not allowed" in message, message
    assert large_objects(pg) == before
    assert pg.execute("SELECT to_regclass('public.out')").fetchone() == (None,)


def test_elt_rechecks_the_source_query(pg: Any, pg_conn_id: str, log: Any) -> None:
    pg.execute("CREATE SEQUENCE s")
    before = large_objects(pg)
    for query, function in [
        ("SELECT lo_from_bytea(0, 'x'::bytea) AS o", "lo_from_bytea"),
        # Allowed in a read-only source, but ELT runs it inside its read-write INSERT ... SELECT.
        ("SELECT nextval('s') AS n", "nextval"),
    ]:
        with pytest.raises(LogiDataTaskError, match=rf"function {function}\(\) is not allowed"):
            elt_run(pg_conn_id, bypassed(pg_conn_id, query), [], log)
    assert large_objects(pg) == before
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


def test_a_partial_pushdown_rechecks_the_query_and_expressions(
    pg: Any, pg_conn_id: str, log: Any, tmp_path: Path
) -> None:
    """The partial pushdown (its result leaves for the engine) checks the source query and each pushed
    expression again before anything runs: refused, nothing created, nothing staged."""
    from airflow_provider_logidata.engine.elt_read import read_elt
    from airflow_provider_logidata.modules.transforms.filter_rows import FilterRowsConfig

    pg.execute("CREATE TABLE raw (id int, name text); INSERT INTO raw VALUES (1, 'a'), (2, 'b')")
    pg.execute("CREATE SEQUENCE s")
    before = large_objects(pg)
    table = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "raw"})
    keep = elt.EltStep("keep", "filter_rows", FilterRowsConfig.model_construct(condition="id > 0"))
    out = tmp_path / "out.parquet"
    for query, function in [
        ("SELECT pg_read_file('/etc/hostname') AS secret", "pg_read_file"),
        ("SELECT lo_from_bytea(0, 'x'::bytea) AS o", "lo_from_bytea"),
        ("SELECT nextval('s') AS n", "nextval"),  # the transaction is read-write (helpers): refused too
    ]:
        with pytest.raises(LogiDataTaskError, match=rf"function {function}\(\) is not allowed"):
            read_elt("read", bypassed(pg_conn_id, query), [keep], str(out), log=log)
    for condition, function in [
        ("pg_read_file('/etc/hostname') <> ''", "pg_read_file"),
        ("id > 0 AND lo_from_bytea(0, CAST('x' AS BLOB)) > 0", "lo_from_bytea"),
        # an ordering's text operands are typed by PostgreSQL (code-point order): checked before that
        ("name < pg_read_file('/etc/hostname')", "pg_read_file"),
    ]:
        step = elt.EltStep("keep", "filter_rows", FilterRowsConfig.model_construct(condition=condition))
        with pytest.raises(LogiDataTaskError, match=rf"function {function}\(\) is not allowed"):
            read_elt("read", table, [step], str(out), log=log)
    assert not out.exists()
    assert large_objects(pg) == before
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


def test_a_pushed_route_rechecks_its_condition(pg: Any, pg_conn_id: str, log: Any) -> None:
    from airflow_provider_logidata.modules.transforms.route import RouteConfig

    pg.execute("CREATE TABLE raw (id int, name text); INSERT INTO raw VALUES (1, 'a'), (2, 'b')")
    source = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "raw"})
    before = large_objects(pg)

    def sink(node_id: str, table: str, reads: str) -> elt.EltSink:
        return elt.EltSink(
            node_id, PostgresDestinationConfig.model_validate({"conn_id": pg_conn_id, "table": table}), reads
        )

    sinks = [sink("a", "out_a", "split"), sink("b", "out_b", "split:unmatched")]
    for condition, function in [
        ("pg_read_file('/etc/hostname') <> ''", "pg_read_file"),
        ("lo_from_bytea(0, CAST('x' AS BLOB)) > 0", "lo_from_bytea"),
        ("name BETWEEN 'a' AND pg_read_file('/etc/hostname')", "pg_read_file"),
    ]:
        step = elt.EltStep(
            "split", "route", RouteConfig.model_construct(condition=condition), (("read", None),)
        )
        with pytest.raises(LogiDataTaskError, match=rf"function {function}\(\) is not allowed"):
            elt.run_elt("read", source, [step], "b", sinks[1].config, sinks=sinks, log=log)
    assert large_objects(pg) == before
    assert pg.execute("SELECT to_regclass('public.out_a'), to_regclass('public.out_b')").fetchone() == (
        None,
        None,
    )


def test_elt_statement_timeout(pg: Any, pg_conn_id: str, log: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__SOURCE_STATEMENT_TIMEOUT", "1")
    source = PostgresSourceConfig.model_validate(
        {"conn_id": pg_conn_id, "query": "SELECT x FROM pg_sleep(60.75), (VALUES (1)) AS v(x)"}
    )
    with pytest.raises(LogiDataTaskError) as raised:
        elt_run(pg_conn_id, source, [], log)
    message = str(raised.value)
    assert (
        "source_statement_timeout (1 s)" in message
        and "Nothing was written: public.out is unchanged" in message
    )
    assert pg.execute("SELECT to_regclass('public.out')").fetchone() == (None,)
    assert wait_until(lambda: not sleeping_backends(pg, "pg_sleep(60.75)"))


def test_read_only_step_refuses_writes_and_rolls_back(pg: Any, pg_conn_id: str) -> None:
    pg.execute("CREATE SEQUENCE s")
    with (
        pg_connect.connect(pg_conn_id, owner="test", node_id="x") as con,
        con.transaction(force_rollback=True),
    ):
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), elt_context.read_only_step(con):
            con.execute("SELECT nextval('s')")
        # The step ended: the enclosing (ELT) transaction may write again, e.g. its helper functions.
        assert con.execute("SHOW transaction_read_only").fetchone() == ("off",)
        con.execute("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


# --- previews (real worker pool) ---------------------------------------------------------------------


def doc(nodes: list[dict[str, Any]], *, engine: str = "etl", pid: str = "confine_test") -> dict[str, Any]:
    return specs.linear(nodes, pid, name="Confinement test", engine=engine)


pg_source = specs.pg_source


@pytest.fixture
def previews(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``preview.service`` with its own worker pool (2 workers), stopped afterwards."""
    from airflow_provider_logidata.preview import service

    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_WORKERS", "2")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "60")
    service.shutdown()
    monkeypatch.setattr(service, "_cache", None)
    yield service
    service.shutdown()


def test_timed_out_previews_leave_no_backend_running(
    pg: Any, pg_conn_id: str, previews: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_logidata.preview.plan import PreviewError

    previews.preview(doc([pg_source(pg_conn_id, query="SELECT 1 AS x")]), "orders")  # workers warm
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "2")
    statuses: list[int] = []

    def slow(index: int) -> None:
        query = f"SELECT x FROM pg_sleep(90), (VALUES ({index})) AS v(x)"
        try:
            previews.preview(doc([pg_source(pg_conn_id, query=query)], pid=f"slow_{index}"), "orders")
        except PreviewError as error:
            statuses.append(error.status)

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert statuses == [504] * 4
    # The pool killed each worker at the limit; its backend stops too (client check, statement_timeout).
    assert wait_until(lambda: not sleeping_backends(pg, "pg_sleep(90)"), 30), sleeping_backends(
        pg, "pg_sleep(90)"
    )


@contextlib.contextmanager
def plain_role(postgres_server: Any, pg_database: str, pg: Any) -> Iterator[dict[str, str]]:
    """A LOGIN role that is not a superuser, allowed to read public.t (roles are cluster-wide: dropped)."""
    name = f"plain_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    pg.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    pg.execute(f"GRANT SELECT ON t TO {name}")
    try:
        yield {"login": name, "password": password}
    finally:
        with postgres_server.connect(pg_database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
            )
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE {name}")


@pytest.fixture
def plain_conn_id(
    postgres_server: Any, pg_database: str, pg: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    pg.execute("CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1), (2)")
    with plain_role(postgres_server, pg_database, pg) as role:
        connection = json.loads(postgres_server.airflow_conn(pg_database)) | role
        monkeypatch.setenv("AIRFLOW_CONN_LOGIDATA_PLAIN", json.dumps(connection))
        yield "logidata_plain"


def test_superuser_warning_in_task_logs(
    pg: Any, pg_conn_id: str, plain_conn_id: str, tmp_path: Path, log: Any
) -> None:
    from airflow_provider_logidata.engine.pg_checks import is_superuser

    handle = pg_read.read_postgres(
        PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "t"}),
        "src",
        str(tmp_path / "src" / "part-00000.parquet"),
        log=log,
    )
    warnings = log.text("warning")
    assert (
        f"source.postgres node 'src': the connection '{pg_conn_id}' logs in to PostgreSQL as 'postgres', "
        "a superuser" in warnings
    )
    assert "Give the connection a role that may only read" in warnings
    pg_load.load_postgres(
        PostgresDestinationConfig.model_validate({"conn_id": pg_conn_id, "table": "copy"}),
        "dst",
        [handle],
        log,
    )
    assert f"destination.postgres node 'dst': the connection '{pg_conn_id}' logs in" in log.text("warning")

    plain_log = type(log)()
    pg_read.read_postgres(
        PostgresSourceConfig.model_validate({"conn_id": plain_conn_id, "table": "t"}),
        "src",
        str(tmp_path / "plain" / "part-00000.parquet"),
        log=plain_log,
    )
    assert plain_log.text("warning") == ""
    with pg_connect.connect(plain_conn_id, owner="t", node_id="t") as con:
        assert is_superuser(con) is False
    with pg_connect.connect(pg_conn_id, owner="t", node_id="t") as con:
        assert is_superuser(con) is True


def test_superuser_warning_in_the_preview_answer(
    pg: Any, pg_conn_id: str, plain_conn_id: str, previews: Any
) -> None:
    answer = previews.preview(doc([pg_source(pg_conn_id, table="t")]), "orders")
    assert answer["rows"] == [[1], [2]]
    assert len(answer["warnings"]) == 1
    assert answer["warnings"][0].startswith(
        f"source.postgres node 'orders': the connection '{pg_conn_id}' logs in to PostgreSQL as 'postgres', "
        "a superuser"
    )
    plain = previews.preview(doc([pg_source(plain_conn_id, table="t")]), "orders")
    assert plain["rows"] == [[1], [2]] and plain["warnings"] == []


def test_worker_knows_its_job_limit_and_collects_warnings() -> None:
    from airflow_provider_logidata.preview.pool import PreviewPool, in_worker, job_time_limit

    assert in_worker() is False and job_time_limit() is None
    pool = PreviewPool(workers=1, timeout=5.0, queue_size=0, warm=())
    try:
        assert pool.run("airflow_provider_logidata.preview.pool:job_time_limit", timeout=3.5) == 3.5
        assert pool.run("airflow_provider_logidata.preview.pool:in_worker") is True
        assert pool.run("airflow_provider_logidata.preview.pool:report_warning", "careful") is None
        assert pool.run("airflow_provider_logidata.preview.pool:job_warnings") == []  # reset per job
    finally:
        pool.close()


def elt_nodes(conn_id: str, condition: str) -> list[dict[str, Any]]:
    return [
        pg_source(conn_id, table="t"),
        {"id": "keep", "module": "filter_rows", "config": {"condition": condition}},
        {"id": "save", "module": "destination.postgres", "config": {"conn_id": conn_id, "table": "out"}},
    ]


def test_elt_preview_samples_read_only(pg: Any, pg_conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_logidata.preview.execute import run_plan
    from airflow_provider_logidata.preview.plan import plan_preview

    pg.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3); CREATE SEQUENCE s")
    answer = run_plan(plan_preview(doc(elt_nodes(pg_conn_id, "id > 1"), engine="elt"), "keep", limit=10))
    assert answer["engine"] == "elt" and answer["rows"] == [[2], [3]]
    # A condition that writes, with the function check bypassed (validation's and the executor's): the
    # sample runs in a read-only step.
    from airflow_provider_logidata.security import pg_sql

    monkeypatch.setattr(pg_sql, "check_pg_sql", lambda *args, **kwargs: None)
    with pytest.raises(LogiDataTaskError, match=r"read-only transaction"):
        run_plan(plan_preview(doc(elt_nodes(pg_conn_id, "nextval('s') > 0"), engine="elt"), "keep", limit=10))
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)
    assert pg.execute("SELECT to_regclass('public.out')").fetchone() == (None,)


def test_elt_preview_refuses_denied_functions_and_warns(pg: Any, pg_conn_id: str, previews: Any) -> None:
    from airflow_provider_logidata.preview.plan import PreviewError

    pg.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3)")
    answer = previews.preview(doc(elt_nodes(pg_conn_id, "id > 1"), engine="elt"), "keep")
    assert answer["engine"] == "elt" and answer["rows"] == [[2], [3]]
    assert any("a superuser" in warning for warning in answer["warnings"]), answer["warnings"]
    with pytest.raises(PreviewError) as raised:
        previews.preview(
            doc(elt_nodes(pg_conn_id, "pg_read_file('/etc/hostname') <> ''"), engine="elt"), "keep"
        )
    assert raised.value.status == 422
    assert "function pg_read_file() is not allowed" in raised.value.detail
    assert hostname() not in raised.value.detail
