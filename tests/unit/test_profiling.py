"""Column profiles (``profiling.profile_table``): the figures the preview grid and suggestion rules read."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pyarrow as pa

from airflow_provider_logidata.profiling import profile_table


def _by_name(table: pa.Table) -> dict[str, dict]:
    profiles = profile_table(table)
    json.dumps(profiles, allow_nan=False)  # always JSON-safe
    return {p["name"]: p for p in profiles}


def test_numeric_column_figures_and_histogram() -> None:
    profile = _by_name(pa.table({"n": [1, 2, 2, 3, None, 10]}))["n"]
    assert profile["type"] == "BIGINT"
    assert profile["null_share"] == 1 / 6
    assert profile["distinct_estimate"] == 4
    assert (profile["min"], profile["max"]) == (1, 10)
    assert profile["mean"] == 18 / 5
    assert profile["top_values"][0] == {"value": 2, "count": 2}
    histogram = profile["histogram"]
    assert len(histogram["edges"]) == 11 and len(histogram["counts"]) == 10
    assert histogram["edges"][0] == 1 and histogram["edges"][-1] == 10
    assert sum(histogram["counts"]) == 5 and histogram["counts"][-1] == 1
    assert profile["inferred"] is None


def test_constant_column_has_one_bar() -> None:
    histogram = _by_name(pa.table({"n": [5.0, 5.0]}))["n"]["histogram"]
    assert sum(histogram["counts"]) == 2 and histogram["counts"].count(0) == 9


def test_nan_and_infinity_stay_out_of_statistics() -> None:
    profile = _by_name(pa.table({"x": [1.0, float("nan"), float("inf"), 2.0]}))["x"]
    assert profile["min"] == 1.0 and profile["max"] == "Infinity"
    assert profile["mean"] is None  # not a finite number
    assert sum(profile["histogram"]["counts"]) == 2
    assert {"value": "NaN", "count": 1} in profile["top_values"]


def test_text_columns_infer_their_type() -> None:
    table = pa.table(
        {
            "ints": [" 1", "2", None, ""],
            "nums": ["1.5", "2", "3e2", None],
            "bools": ["yes", "No", "Y", "n"],
            "dates": ["2024-01-31", "31/01/2024", None, "2024-02-01"],
            "stamps": ["2024-01-01 10:00:00", "2024-01-02T11:30:00", None, None],
            "mixed": ["1", "a", None, None],
        }
    )
    inferred = {name: p["inferred"] for name, p in _by_name(table).items()}
    assert inferred == {
        "ints": "integer",
        "nums": "number",
        "bools": "boolean",
        "dates": "date",
        "stamps": "timestamp",
        "mixed": None,
    }


def test_other_types_are_json_safe() -> None:
    table = pa.table(
        {
            "d": [dt.date(2024, 1, 2), None],
            "ts": [dt.datetime(2024, 1, 2, 3, 4, 5), None],
            "dec": pa.array([decimal.Decimal("1.25"), decimal.Decimal("2.50")], type=pa.decimal128(10, 2)),
            "bin": [b"\x00\x01", None],
            "lst": [[1, 2], None],
            "flag": [True, False],
            "long": ["x" * 500, "y"],
        }
    )
    profiles = _by_name(table)
    assert profiles["d"]["min"] == "2024-01-02" and profiles["d"]["histogram"] is None
    assert profiles["ts"]["max"] == "2024-01-02T03:04:05"
    assert profiles["dec"]["min"] == "1.25" and profiles["dec"]["mean"] == 1.875
    assert profiles["bin"]["top_values"] == [{"value": "<binary 2 bytes>", "count": 1}]
    assert profiles["lst"]["top_values"] == [{"value": [1, 2], "count": 1}]
    assert profiles["flag"]["min"] is False and profiles["flag"]["max"] is True
    assert profiles["long"]["max"] == "y" and profiles["long"]["min"].endswith("…")


def test_empty_table_and_all_null_column() -> None:
    assert profile_table(pa.table({"a": pa.array([], type=pa.int64())}))[0]["null_share"] == 0.0
    profile = profile_table(pa.table({"a": pa.array([None, None], type=pa.string())}))[0]
    assert profile["null_share"] == 1.0 and profile["top_values"] == [] and profile["inferred"] is None


def test_columns_keep_their_order_and_odd_names() -> None:
    table = pa.table({'we"ird': [1], "Spaced Name": ["a"], "z": [None]})
    assert [p["name"] for p in profile_table(table)] == ['we"ird', "Spaced Name", "z"]
