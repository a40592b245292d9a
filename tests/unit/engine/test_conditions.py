"""Filter conditions are parsed and checked with sqlglot before any data moves."""

from __future__ import annotations

import pytest

from airflow_provider_logidata.engine.conditions import validate_condition
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import resolve_column, unique_name

COLUMNS = [("amount", "DOUBLE"), ("status", "VARCHAR"), ('x"; drop table t; --', "BIGINT"), ("s", "STRUCT")]
OWNER = "filter_rows node 'f'"


@pytest.mark.parametrize(
    ("condition", "sql"),
    [
        ("amount > 0 AND status <> 'test'", "amount > 0 AND status <> 'test'"),
        ("Amount > 0", "Amount > 0"),  # DuckDB matches identifiers case-insensitively
        ('"x""; drop table t; --" = 3', '"x""; drop table t; --" = 3'),
        ("s.field = 1", "s.field = 1"),  # struct access on an input column
        ("status = 'a;b' -- trailing comment", "status = 'a;b' /* trailing comment */"),
        ("amount::INTEGER BETWEEN 1 AND 2", "CAST(amount AS INT) BETWEEN 1 AND 2"),
    ],
)
def test_valid_conditions_are_regenerated_from_the_checked_tree(condition: str, sql: str) -> None:
    assert validate_condition(condition, COLUMNS, owner=OWNER) == sql


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "foo > 1",
            "unknown column 'foo' in condition; input columns: amount, status, x\"; drop table t; --, s",
        ),
        ("amount > 1; DELETE FROM t", "contains ';'"),
        ("(SELECT max(amount) FROM t) > 1", "subqueries and SELECT are not allowed"),
        ("amount IN (SELECT 1 UNION SELECT 2)", "subqueries and SELECT are not allowed"),
        ("COPY t TO '/tmp/x'", "not allowed"),
        ("glob('/etc/*') IS NOT NULL", "function glob() is not allowed"),
        ("getenv('HOME') = 'x'", "function getenv() is not allowed"),
        ("amount = $1", "parameters are not allowed"),
        ("other.amount > 1", "unknown column 'other'"),
        ("amount >", "cannot parse the condition"),
        ("'unterminated", "cannot"),
    ],
)
def test_invalid_conditions(condition: str, message: str) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        validate_condition(condition, COLUMNS, owner=OWNER)
    assert str(info.value).startswith(f"{OWNER}: ")
    assert message in str(info.value)


def test_resolve_column_prefers_exact_then_unique_case_insensitive() -> None:
    columns = [("a", "INT"), ("A", "INT"), ("Bee", "INT")]
    assert resolve_column("A", columns, owner="o") == ("A", "INT")
    assert resolve_column("bee", columns, owner="o") == ("Bee", "INT")
    with pytest.raises(LogiDataTaskError, match="matches several input columns"):
        resolve_column("id", [("Id", "INT"), ("ID", "INT")], owner="o")


def test_unique_name_avoids_existing_columns() -> None:
    assert unique_name("__row", [("__ROW", "INT"), ("__row_", "INT")]) == "__row__"
