"""The fill_nulls module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_fill_constants_keep_column_types(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {
            "fills": [
                {"column": "amount", "value": 0},
                {"column": "country", "value": "unknown"},
                {"column": "flag", "value": True},
                {"column": "day", "value": "2024-01-01"},
            ]
        },
        {
            "amount": [1.5, None],
            "country": [None, "FR"],
            "flag": [None, False],
            "day": pa.array([None, dt.date(2024, 5, 1)], pa.date32()),
        },
    )
    assert [str(f.type) for f in out.schema] == ["double", "string", "bool", "date32[day]"]
    assert rows(out) == [
        {"amount": 1.5, "country": "unknown", "flag": True, "day": dt.date(2024, 1, 1)},
        {"amount": 0.0, "country": "FR", "flag": False, "day": dt.date(2024, 5, 1)},
    ]


def test_fill_statistics(transform: Any) -> None:
    data = {
        "mean_i": [1, 2, None, 4],  # mean 7/3 = 2.33 -> 2 in an integer column
        "mean_f": [1.0, 2.0, None, 4.0],
        "median": [10.0, None, 30.0, 20.0],
        "mode": ["b", "a", None, "b"],
        "tie": ["z", "y", None, None],  # tie between y and z: the smallest wins
        "min": [5, None, 3, 9],
        "max": [5, None, 3, 9],
    }
    fills = [
        {"column": "mean_i", "strategy": "mean"},
        {"column": "mean_f", "strategy": "mean"},
        {"column": "median", "strategy": "median"},
        {"column": "mode", "strategy": "mode"},
        {"column": "tie", "strategy": "mode"},
        {"column": "min", "strategy": "min"},
        {"column": "max", "strategy": "max"},
    ]
    out = transform("fill_nulls", {"fills": fills}, data)
    assert out.column("mean_i").to_pylist() == [1, 2, 2, 4]
    assert out.column("mean_f").to_pylist() == pytest.approx([1.0, 2.0, 7 / 3, 4.0])
    assert out.column("median").to_pylist() == [10.0, 20.0, 30.0, 20.0]
    assert out.column("mode").to_pylist() == ["b", "a", "b", "b"]
    assert out.column("tie").to_pylist() == ["z", "y", "y", "y"]
    assert out.column("min").to_pylist() == [5, 3, 3, 9]
    assert out.column("max").to_pylist() == [5, 9, 3, 9]
    assert str(out.schema.field("mean_i").type) == "int64"


def test_fill_several_fills_for_one_column_apply_in_order(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {"fills": [{"column": "a", "strategy": "max"}, {"column": "a", "value": -1}]},
        {"a": pa.array([None, None], pa.int64())},
    )
    assert out.column("a").to_pylist() == [-1, -1]  # no values: max is null, the constant applies


def test_fill_constant_that_does_not_fit_the_type(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"value 'unknown' does not fit column 'amount' of type DOUBLE"
    ):
        transform(
            "fill_nulls", {"fills": [{"column": "amount", "value": "unknown"}]}, {"amount": [1.0, None]}
        )


def test_fill_mean_needs_numbers(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"strategy 'mean' needs a numeric column; 'name' is VARCHAR"):
        transform("fill_nulls", {"fills": [{"column": "name", "strategy": "mean"}]}, {"name": ["a", None]})


def test_fill_injection_looking_column_and_value(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {"fills": [{"column": EVIL, "value": "it's'; drop table t; --"}]},
        {EVIL: [None, "ok"]},
    )
    assert out.column(EVIL).to_pylist() == ["it's'; drop table t; --", "ok"]
