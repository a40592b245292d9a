"""The filter_rows module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_filter_keeps_true_rows_and_drops_null(transform: Any) -> None:
    out = transform(
        "filter_rows",
        {"condition": "amount > 10 AND status <> 'test'"},
        {"amount": [5, 20, None, 30, 40], "status": ["ok", "ok", "ok", "test", None]},
    )
    assert rows(out) == [{"amount": 20, "status": "ok"}]


def test_filter_supports_functions_casts_and_lambdas(transform: Any) -> None:
    out = transform(
        "filter_rows",
        {
            "condition": "upper(name) LIKE 'A%' AND CAST(d AS DATE) >= DATE '2024-01-02' "
            "AND len(list_filter(tags, lambda t: t = 'x')) > 0"
        },
        {
            "name": ["ann", "amy", "bob"],
            "d": ["2024-01-01", "2024-01-05", "2024-01-05"],
            "tags": [["x"], ["y", "x"], ["x"]],
        },
    )
    assert out.column("name").to_pylist() == ["amy"]


def test_filter_unknown_column_message(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("filter_rows", {"condition": "foo > 1"}, {"a": [1], "b": [2], "c": [3]}, node_id="x")
    assert str(info.value).startswith(
        "filter_rows node 'x': unknown column 'foo' in condition; input columns: a, b, c"
    )


def test_filter_hint_for_unquoted_text(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"a text value needs single quotes: 'shipped'"):
        transform("filter_rows", {"condition": "status = shipped"}, {"status": ["shipped"]})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("a IN (SELECT 1)", "subqueries and SELECT are not allowed"),
        ("EXISTS (SELECT * FROM input_0)", "subqueries and SELECT are not allowed"),
        ("a > 1; DROP TABLE input_0", "contains ';'"),
        ("a > 1;", "contains ';'"),
        ("DROP TABLE input_0", "statements and table references are not allowed"),
        ("read_csv('/etc/passwd') IS NOT NULL", "not allowed"),
        ("a = ?", "parameters are not allowed"),
        ("t.a > 1", "unknown column 't'"),
        ("a >", "cannot parse the condition"),
    ],
)
def test_filter_rejects_unsafe_or_invalid_conditions(transform: Any, condition: str, expected: str) -> None:
    with pytest.raises(LogiDataTaskError, match="filter_rows node 'f': ") as info:
        transform("filter_rows", {"condition": condition}, {"a": [1, 2]}, node_id="f")
    assert expected in str(info.value)


def test_filter_type_error_from_duckdb_names_node(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"filter_rows node 'f': DuckDB rejects the condition"):
        transform("filter_rows", {"condition": "a > DATE '2024-01-01'"}, {"a": [True]}, node_id="f")


def test_filter_with_injection_looking_column_name(transform: Any) -> None:
    quoted = '"' + EVIL.replace('"', '""') + '"'
    out = transform("filter_rows", {"condition": f"{quoted} >= 2"}, {EVIL: [1, 2, 3], "b": ["p", "q", "r"]})
    assert rows(out) == [{EVIL: 2, "b": "q"}, {EVIL: 3, "b": "r"}]
