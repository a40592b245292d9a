"""The sql module: checked before it runs, external access off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_logidata.engine import duck
from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


# --- sql ------------------------------------------------------------------------------------------------

CUSTOMERS = {"id": [1, 2, 3], "name": ["Ann", "Bob", "Cat"]}
ORDERS = {"customer": [2, 1, 2], "amount": [10, 20, 30]}


def test_sql_reads_inputs_by_upstream_name_port_and_position(multi: Any) -> None:
    query = """
        WITH totals AS (SELECT customer, sum(amount) AS total FROM "split__matched" GROUP BY customer)
        SELECT c.name, t.total, (SELECT count(*) FROM input_0) AS customers
        FROM read_customers AS c JOIN totals AS t ON t.customer = c.id
        ORDER BY t.total DESC
    """
    out = multi("sql", {"query": query}, {"read_customers": CUSTOMERS, "split:matched": ORDERS})["out"]
    assert out.to_pylist() == [
        {"name": "Bob", "total": 40, "customers": 3},
        {"name": "Ann", "total": 20, "customers": 3},
    ]


def test_sql_set_operations_and_task_ids_needing_quotes(multi: Any) -> None:
    query = 'SELECT id FROM "load-a.v2" UNION ALL BY NAME SELECT customer AS id FROM input_1 ORDER BY ALL'
    out = multi("sql", {"query": query}, {"load-a.v2": CUSTOMERS, "b": ORDERS})["out"]
    assert out.column("id").to_pylist() == [1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("COPY src TO '/tmp/stolen.csv'", "only a SELECT query is allowed, not COPY"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv() is not allowed"),
        ("SELECT * FROM read_text('/etc/passwd')", "table function read_text() is not allowed"),
        (
            "SELECT * FROM '/etc/passwd'",
            "unknown table '/etc/passwd'; the SQL may read only its inputs: input_0, src",
        ),
        ("SELECT * FROM src; SELECT 1", "the SQL must be exactly one statement, found 2"),
        ("SELECT * FROM src; DROP TABLE src", "exactly one statement, found 2"),
        ("DELETE FROM src", "only a SELECT query is allowed, not DELETE"),
        ("CREATE TABLE t AS SELECT * FROM src", "not CREATE"),
        ("ATTACH '/tmp/x.db' AS x", "not ATTACH"),
        ("PRAGMA database_list", "not PRAGMA"),
        ("INSTALL httpfs", "not INSTALL"),
        ("LOAD httpfs", "not LOAD"),
        ("SET enable_external_access = true", "not SET"),
        ("WITH d AS (DELETE FROM src RETURNING *) SELECT * FROM d", "DELETE is not allowed inside a query"),
        ("SELECT * FROM duckdb_settings()", "table function duckdb_settings() is not allowed"),
        ("SELECT getenv('HOME')", "function getenv() is not allowed"),
        ("SELECT * FROM src, LATERAL glob('/etc/*')", "glob() is not allowed"),
        ("SELECT * FROM main.src", "names a schema or database"),
        ("SELECT * FROM other_table", "unknown table 'other_table'"),
        ("SELECT * FROM src WHERE amount > $1", "parameters are not allowed"),
        ("", "at least 1 character"),
        ("   ", "the SQL is empty"),
        ("SELEC * FROM src", "cannot parse the SQL"),
    ],
)
def test_sql_refused_before_running(multi: Any, query: str, message: str) -> None:
    with pytest.raises((LogiDataTaskError, ValueError)) as info:
        multi("sql", {"query": query}, {"src": ORDERS}, node_id="q")
    assert message in str(info.value)
    if isinstance(info.value, LogiDataTaskError) and "at least 1 character" not in message:
        assert str(info.value).startswith("sql node 'q': ")


def test_sql_errors_from_duckdb_name_the_node(multi: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"^sql node 'q': DuckDB rejects the SQL: Binder Error: .*amont"
    ):
        multi("sql", {"query": "SELECT amont FROM src"}, {"src": ORDERS}, node_id="q")
    with pytest.raises(LogiDataTaskError, match=r"^sql node 'q': column 'a' appears twice \(as 'a' and 'A';"):
        multi("sql", {"query": "SELECT amount AS a, customer AS A FROM src"}, {"src": ORDERS}, node_id="q")


def test_connection_reads_only_the_inputs_even_without_the_checks(stage: Any, tmp_path: Path) -> None:
    """Defence in depth: the transform connection itself refuses other files and settings changes."""
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    located = duck.locate_inputs([stage(ORDERS)])
    with duck.connect(external_access=False, inputs=located) as con:
        assert duck.count_rows(con, "input_0") == 3
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            f"SELECT * FROM '{secret}'",
            f"COPY input_0 TO '{tmp_path / 'out.csv'}'",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                duck.fetch_all(con, sql)
    assert not (tmp_path / "out.csv").exists()


def test_sql_injection_looking_names(multi: Any) -> None:
    quoted = '"' + EVIL.replace('"', '""') + '"'
    out = multi("sql", {"query": f"SELECT {quoted} * 2 AS {quoted} FROM src"}, {"src": {EVIL: [1, 2]}})["out"]
    assert out.to_pylist() == [{EVIL: 2}, {EVIL: 4}]
