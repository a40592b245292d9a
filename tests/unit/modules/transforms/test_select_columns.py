"""The select_columns module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_select_orders_renames_and_drops(transform: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "c"}, {"name": "a", "rename": "alpha"}]},
        {"a": [1, 2], "b": ["x", "y"], "c": [True, False]},
    )
    assert out.column_names == ["c", "alpha"]
    assert rows(out) == [{"c": True, "alpha": 1}, {"c": False, "alpha": 2}]


def test_select_keep_other_columns_appends_unlisted_in_input_order(transform: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "c"}], "keep_other_columns": True},
        {"a": [1], "b": ["x"], "c": [2.5]},
    )
    assert out.column_names == ["c", "a", "b"]


def test_select_casts_every_type(transform: Any) -> None:
    out = transform(
        "select_columns",
        {
            "columns": [
                {"name": "s", "rename": "as_int", "cast": "integer"},
                {"name": "f", "rename": "as_float", "cast": "float"},
                {"name": "f", "rename": "as_decimal", "cast": "decimal"},
                {"name": "b", "rename": "as_bool", "cast": "boolean"},
                {"name": "d", "rename": "as_date", "cast": "date"},
                {"name": "d", "rename": "as_ts", "cast": "timestamp"},
                {"name": "i", "rename": "as_text", "cast": "string"},
            ]
        },
        {
            "s": ["12", None],
            "f": ["120.50", "0.1"],
            "b": ["true", "f"],
            "d": ["2024-03-01", "2024-12-31"],
            "i": [7, None],
        },
    )
    types = {field.name: str(field.type) for field in out.schema}
    assert types == {
        "as_int": "int64",
        "as_float": "double",
        "as_decimal": "decimal128(38, 9)",
        "as_bool": "bool",
        "as_date": "date32[day]",
        "as_ts": "timestamp[us]",
        "as_text": "string",
    }
    assert rows(out) == [
        {
            "as_int": 12,
            "as_float": 120.5,
            "as_decimal": decimal.Decimal("120.500000000"),
            "as_bool": True,
            "as_date": dt.date(2024, 3, 1),
            "as_ts": dt.datetime(2024, 3, 1),
            "as_text": "7",
        },
        {
            "as_int": None,
            "as_float": 0.1,
            "as_decimal": decimal.Decimal("0.100000000"),
            "as_bool": False,
            "as_date": dt.date(2024, 12, 31),
            "as_ts": dt.datetime(2024, 12, 31),
            "as_text": None,
        },
    ]


def test_select_cast_failure_names_node_column_count_and_examples(transform: Any) -> None:
    data = {"qty": ["1", "three", "2", "many", "three", "x1", "x2", "x3", "x4", None]}
    with pytest.raises(LogiDataTaskError) as info:
        transform("select_columns", {"columns": [{"name": "qty", "cast": "integer"}]}, data, node_id="typed")
    message = str(info.value)
    assert message.startswith(
        "select_columns node 'typed': column 'qty': 7 value(s) cannot be cast to integer"
    )
    # Up to five distinct examples, in input order.
    assert "e.g. 'three', 'many', 'x1', 'x2', 'x3'" in message
    assert "'x4'" not in message
    assert "on_error" in message  # the fix


def test_select_cast_failure_lists_every_failing_column(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform(
            "select_columns",
            {"columns": [{"name": "a", "cast": "integer"}, {"name": "b", "cast": "date"}]},
            {"a": ["1", "one"], "b": ["2024-01-01", "yesterday"]},
        )
    assert "column 'a': 1 value(s) cannot be cast to integer (BIGINT), e.g. 'one'" in str(info.value)
    assert "column 'b': 1 value(s) cannot be cast to date (DATE), e.g. 'yesterday'" in str(info.value)


def test_select_cast_on_error_null_nulls_and_logs_count(transform: Any, log: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "qty", "cast": "integer"}], "on_error": "null"},
        {"qty": ["1", "three", None, "4", "many"]},
    )
    assert out.column("qty").to_pylist() == [1, None, None, 4, None]
    assert "2 value(s) in column 'qty' cannot be cast to integer" in log.text("warning")


def test_select_unknown_column_lists_input_columns(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError,
        match=r"select_columns node 'pick': unknown column 'nope'; input "
        r"columns: a, b",
    ):
        transform("select_columns", {"columns": [{"name": "nope"}]}, {"a": [1], "b": [2]}, node_id="pick")


def test_select_duplicate_output_with_kept_column_is_an_error(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match="output column 'b' would appear twice"):
        transform(
            "select_columns",
            {"columns": [{"name": "a", "rename": "b"}], "keep_other_columns": True},
            {"a": [1], "b": [2]},
        )


def test_select_matches_column_names_case_insensitively_when_unique(transform: Any) -> None:
    out = transform("select_columns", {"columns": [{"name": "amount"}]}, {"Amount": [1]})
    assert out.column_names == ["Amount"]


def test_select_injection_looking_rename(transform: Any) -> None:
    out = transform(
        "select_columns", {"columns": [{"name": "a", "rename": EVIL, "cast": "string"}]}, {"a": [1]}
    )
    assert rows(out) == [{EVIL: "1"}]
