"""The map_values module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.map_values import MapValuesConfig

EVIL = 'x"; drop table t; --'


def types(table: pa.Table) -> dict[str, str]:
    return {field.name: str(field.type) for field in table.schema}


STATUS = {"status": ["A", "I", "X", None, "A"], "code": [1, 2, 3, None, 1]}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, ["Active", "Inactive", "X", None, "Active"]),
        ({"default": "null"}, ["Active", "Inactive", None, None, "Active"]),
        (
            {"default": "value", "default_value": "Unknown"},
            ["Active", "Inactive", "Unknown", "Unknown", "Active"],
        ),
    ],
)
def test_map_values_defaults(transform: Any, config: dict[str, Any], expected: list[Any]) -> None:
    out = transform(
        "map_values", {"column": "status", "mapping": {"A": "Active", "I": "Inactive"}, **config}, STATUS
    )
    assert out.column("status").to_pylist() == expected
    assert out.column_names == ["status", "code"]


def test_map_values_numeric_keys_and_typed_targets(transform: Any) -> None:
    # Keys are text in JSON and read in the column's type; integer targets give an integer column.
    out = transform("map_values", {"column": "code", "mapping": {"1": 10, "2": 20}}, STATUS)
    assert out.column("code").to_pylist() == [10, 20, 3, None, 10]
    assert types(out)["code"] == "int64"
    floats = transform("map_values", {"column": "code", "mapping": {"1": 0.5}, "default": "null"}, STATUS)
    assert floats.column("code").to_pylist() == [0.5, None, None, None, 0.5]
    assert types(floats)["code"] == "double"
    flags = transform(
        "map_values",
        {
            "column": "status",
            "mapping": {"A": True, "I": False},
            "default": "null",
            "target_column": "active",
        },
        STATUS,
    )
    assert flags.column("active").to_pylist() == [True, False, None, None, True]
    assert types(flags)["active"] == "bool"


def test_map_values_keep_with_other_type_turns_result_into_text(transform: Any, log: Any) -> None:
    out = transform(
        "map_values", {"column": "code", "mapping": {"1": "one", "2": "two"}}, STATUS, node_id="m"
    )
    assert out.column("code").to_pylist() == ["one", "two", "3", None, "one"]
    assert "map_values node 'm': the mapping gives VARCHAR values and column 'code' is BIGINT" in log.text()


def test_map_values_keep_reads_text_targets_in_the_column_type(transform: Any) -> None:
    data = {"day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]}
    out = transform("map_values", {"column": "day", "mapping": {"2024-01-01": "2023-12-31"}}, data)
    assert out.column("day").to_pylist() == [dt.date(2023, 12, 31), dt.date(2024, 1, 2)]
    assert types(out)["day"] == "date32[day]"


def test_map_values_target_column_new_or_existing(transform: Any) -> None:
    config = {"column": "status", "mapping": {"A": "Active"}, "default": "null"}
    new = transform("map_values", {**config, "target_column": "label"}, STATUS)
    assert new.column_names == ["status", "code", "label"]
    assert new.column("status").to_pylist() == STATUS["status"]
    assert new.column("label").to_pylist() == ["Active", None, None, None, "Active"]
    existing = transform("map_values", {**config, "target_column": "CODE"}, STATUS)
    assert existing.column_names == ["status", "code"]
    assert existing.column("code").to_pylist() == ["Active", None, None, None, "Active"]


def test_map_values_key_that_does_not_fit_the_column(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("map_values", {"column": "code", "mapping": {"1": "one", "two": "2"}}, STATUS, node_id="m")
    assert str(info.value) == (
        "map_values node 'm': mapping key(s) 'two' cannot be read as BIGINT, the type of column 'code'; "
        "use values of that type"
    )


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ({}, ["first", None, "999", None, "first"]),
        ({"default": "null"}, ["first", None, None, None, "first"]),
        ({"default": "value", "default_value": "other"}, ["first", None, "other", "other", "first"]),
    ],
)
def test_map_values_large_mapping_uses_a_lookup_with_the_same_results(
    transform: Any, default: dict[str, Any], expected: list[Any]
) -> None:
    # More entries than a CASE holds: a MAP lookup. '7' maps to null (not "unmapped"); '05' and '5' are the
    # same number, the first entry wins as in a CASE.
    mapping: dict[str, Any] = {str(i): f"v{i}" for i in range(200)}
    mapping = {"05": "first", **mapping, "7": None}
    out = transform("map_values", {"column": "n", "mapping": mapping, **default}, {"n": [5, 7, 999, None, 5]})
    assert out.column("n").to_pylist() == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default": "value"}, "default 'value' needs a default_value"),
        ({"default_value": "x"}, "default_value is used only with default 'value'"),
        ({"mapping": {}}, "at least 1 item"),
        ({"mapping": {"a": [1]}}, "mapping.a"),
    ],
)
def test_map_values_config_is_validated(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MapValuesConfig.model_validate({"column": "c", "mapping": {"a": "b"}, **config})


def test_map_values_injection_looking_values_and_names(transform: Any) -> None:
    out = transform(
        "map_values",
        {"column": EVIL, "mapping": {"it's": "'; DROP TABLE t; --"}, "target_column": EVIL + "!"},
        {EVIL: ["it's", "other"]},
    )
    assert out.to_pylist() == [
        {EVIL: "it's", EVIL + "!": "'; DROP TABLE t; --"},
        {EVIL: "other", EVIL + "!": "other"},
    ]
