"""JSON-safe cells (``preview.encoding``)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from airflow_provider_logidata.preview.encoding import CellEncoder, encode_cell, encode_float, encode_rows


def test_cells() -> None:
    assert encode_cell(dt.date(2024, 1, 2)) == "2024-01-02"
    assert encode_cell(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2024-01-02T03:04:05+00:00"
    assert encode_cell(dt.time(3, 4)) == "03:04:00"
    assert encode_cell(decimal.Decimal("12345678901234567890.123456789")) == "12345678901234567890.123456789"
    assert encode_cell(decimal.Decimal("NaN")) == "NaN"
    assert encode_cell(float("nan")) == "NaN"
    assert encode_cell(float("-inf")) == "-Infinity"
    assert encode_cell(1.5) == 1.5 and encode_cell(7) == 7 and encode_cell(True) is True
    assert encode_cell(None) is None
    assert encode_cell(b"\x00" * 123) == "<binary 123 bytes>"
    assert encode_cell(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert encode_cell(dt.timedelta(days=1, hours=2, seconds=3.5)) == "P1DT2H0M3.5S"
    assert encode_cell({"a": [1, float("inf")], 2: dt.date(2024, 1, 1)}) == {
        "a": [1, "Infinity"],
        "2": "2024-01-01",
    }
    assert encode_cell([("k", 1)]) == [["k", 1]]


def test_long_text_is_cut_visibly_and_counted() -> None:
    encoder = CellEncoder()
    assert encoder.encode("x" * 200) == "x" * 200
    assert encoder.encode("y" * 201) == "y" * 200 + "…"
    assert encoder.encode(b"ab") == "<binary 2 bytes>"
    assert encoder.truncated == 2


def test_rows_are_json_without_nan() -> None:
    rows, truncated = encode_rows([[float("nan"), "z" * 300], [dt.date(2020, 5, 6), None]])
    json.dumps(rows, allow_nan=False)
    assert truncated == 1 and rows[1] == ["2020-05-06", None]


def test_statistics() -> None:
    assert encode_float(None) is None and encode_float(float("inf")) is None and encode_float(2) == 2.0
