"""The catalog's one-in-one-out modules (aggregate, sort, derive_column, map_values), run for real through
DuckDB on staged Parquet, alone and fused in a chain."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.chain import ChainStep, run_chain
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.catalog import AggregateConfig, DeriveColumnConfig, MapValuesConfig

EVIL = 'x"; drop table t; --'


def types(table: pa.Table) -> dict[str, str]:
    return {field.name: str(field.type) for field in table.schema}


# --- aggregate ------------------------------------------------------------------------------------------

SALES = {
    "region": ["north", "south", "north", None, "south", "north"],
    "amount": [10, 5, None, 7, 5, 30],
    "price": [1.5, 2.0, 2.5, None, 4.0, 1.0],
    "customer": ["a", "b", "a", "c", None, "d"],
}


def test_aggregate_every_function_with_nulls(transform: Any) -> None:
    out = transform(
        "aggregate",
        {
            "group_by": ["region"],
            "aggregations": [
                {"function": "count"},
                {"column": "amount", "function": "count"},
                {"column": "customer", "function": "count_distinct", "as": "customers"},
                {"column": "amount", "function": "sum"},
                {"column": "price", "function": "avg"},
                {"column": "amount", "function": "min"},
                {"column": "amount", "function": "max"},
                {"column": "customer", "function": "max", "as": "last_customer"},
            ],
        },
        SALES,
    )
    # Sorted by the keys, the null group last; nulls ignored by every aggregate but count(*).
    assert out.to_pylist() == [
        {
            "region": "north",
            "count": 3,
            "amount_count": 2,
            "customers": 2,
            "amount_sum": 40,
            "price_avg": pytest.approx(5.0 / 3),
            "amount_min": 10,
            "amount_max": 30,
            "last_customer": "d",
        },
        {
            "region": "south",
            "count": 2,
            "amount_count": 2,
            "customers": 1,
            "amount_sum": 10,
            "price_avg": 3.0,
            "amount_min": 5,
            "amount_max": 5,
            "last_customer": "b",
        },
        {
            "region": None,
            "count": 1,
            "amount_count": 1,
            "customers": 1,
            "amount_sum": 7,
            "price_avg": None,
            "amount_min": 7,
            "amount_max": 7,
            "last_customer": "c",
        },
    ]
    assert types(out) == {
        "region": "string",
        "count": "int64",
        "amount_count": "int64",
        "customers": "int64",
        "amount_sum": "int64",  # not DuckDB's HUGEINT (decimal128 in Arrow)
        "price_avg": "double",
        "amount_min": "int64",
        "amount_max": "int64",
        "last_customer": "string",
    }


def test_aggregate_without_group_by_gives_one_row_even_for_empty_input(transform: Any) -> None:
    config = {"aggregations": [{"function": "count"}, {"column": "amount", "function": "sum"}]}
    assert transform("aggregate", config, SALES).to_pylist() == [{"count": 6, "amount_sum": 57}]
    empty = pa.table({"amount": pa.array([], pa.int64())})
    assert transform("aggregate", config, empty).to_pylist() == [{"count": 0, "amount_sum": None}]


def test_aggregate_group_by_only_lists_distinct_keys_in_order(transform: Any) -> None:
    out = transform("aggregate", {"group_by": ["b", "a"]}, {"a": [2, 1, 2, 1], "b": ["y", "x", "y", "y"]})
    assert out.to_pylist() == [{"b": "x", "a": 1}, {"b": "y", "a": 1}, {"b": "y", "a": 2}]


def test_aggregate_sums_booleans_and_decimals(transform: Any) -> None:
    data = pa.table(
        {
            "ok": [True, False, True, None],
            "money": pa.array(
                [decimal.Decimal("1.10"), decimal.Decimal("2.25"), None, None], pa.decimal128(10, 2)
            ),
        }
    )
    out = transform(
        "aggregate",
        {
            "aggregations": [
                {"column": "ok", "function": "sum", "as": "trues"},
                {"column": "ok", "function": "avg", "as": "share"},
                {"column": "money", "function": "sum"},
            ]
        },
        data,
    )
    assert out.to_pylist() == [
        {"trues": 2, "share": pytest.approx(2 / 3), "money_sum": decimal.Decimal("3.35")}
    ]
    assert types(out)["trues"] == "int64"


def test_aggregate_sum_of_text_names_column_and_fix(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform(
            "aggregate", {"aggregations": [{"column": "customer", "function": "sum"}]}, SALES, node_id="tot"
        )
    assert str(info.value).startswith(
        "aggregate node 'tot': sum needs a numeric column; 'customer' is VARCHAR. Cast it to a number first"
    )


def test_aggregate_unknown_column_lists_columns(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"unknown column 'regoin'; input columns: region, amount"):
        transform("aggregate", {"group_by": ["regoin"]}, SALES)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"group_by": ["a"], "aggregations": [{"column": "a", "function": "sum", "as": "A"}]},
            "appears twice",
        ),
        (
            {"aggregations": [{"column": "a", "function": "sum"}, {"column": "a", "function": "sum"}]},
            "appears twice",
        ),
        (
            {"aggregations": [{"function": "count"}, {"column": "x", "function": "min", "as": "count"}]},
            "twice",
        ),
        ({"aggregations": [{"function": "avg"}]}, "function 'avg' needs a column"),
        ({}, "set group_by, aggregations or both"),
        ({"aggregations": [{"function": "median", "column": "a"}]}, "function"),
        ({"aggregations": [{"function": "count", "as_": "n"}]}, "as_"),
    ],
)
def test_aggregate_config_is_validated(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AggregateConfig.model_validate(config)


def test_aggregate_config_round_trips_as_alias() -> None:
    config = AggregateConfig.model_validate({"aggregations": [{"function": "count", "as": "n"}]})
    dumped = config.model_dump(mode="json")
    assert dumped["aggregations"][0]["as"] == "n"
    assert AggregateConfig.model_validate(dumped) == config


def test_aggregate_injection_looking_names(transform: Any) -> None:
    out = transform(
        "aggregate",
        {"group_by": [EVIL], "aggregations": [{"column": "v", "function": "sum", "as": EVIL + "2"}]},
        {EVIL: ["a", "a", "b"], "v": [1, 2, 3]},
    )
    assert out.to_pylist() == [{EVIL: "a", EVIL + "2": 3}, {EVIL: "b", EVIL + "2": 3}]


# --- sort -----------------------------------------------------------------------------------------------

PEOPLE = {
    "name": ["ann", "bob", "cat", "dan", "eve", "fay"],
    "team": ["b", "a", None, "a", "b", None],
    "score": [3, None, 1, 3, 2, None],
}


def names(table: pa.Table) -> list[str]:
    return table.column("name").to_pylist()


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ([{"column": "score"}], ["cat", "eve", "ann", "dan", "bob", "fay"]),  # nulls last by default
        ([{"column": "score", "nulls": "first"}], ["bob", "fay", "cat", "eve", "ann", "dan"]),
        ([{"column": "score", "descending": True}], ["ann", "dan", "eve", "cat", "bob", "fay"]),
        (
            [{"column": "score", "descending": True, "nulls": "first"}],
            ["bob", "fay", "ann", "dan", "eve", "cat"],
        ),
        (
            [{"column": "team", "nulls": "first"}, {"column": "score", "descending": True}],
            ["cat", "fay", "dan", "bob", "ann", "eve"],
        ),
    ],
)
def test_sort_directions_and_nulls_stable_for_ties(
    transform: Any, by: list[dict[str, Any]], expected: list[str]
) -> None:
    out = transform("sort", {"by": by}, PEOPLE)
    assert names(out) == expected
    assert out.column_names == ["name", "team", "score"]


def test_sort_is_stable_over_many_batches(transform: Any) -> None:
    # Ties keep input order even when the input spans several row groups and threads.
    n = 50_000
    data = {"key": [i % 3 for i in range(n)], "pos": list(range(n))}
    out = transform("sort", {"by": [{"column": "key", "descending": True}]}, data)
    pos = out.column("pos").to_pylist()
    assert pos == [i for k in (2, 1, 0) for i in range(n) if i % 3 == k]


def test_sort_unknown_column(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"^sort node 's': unknown column 'age'; input columns: name, team"
    ):
        transform("sort", {"by": [{"column": "age"}]}, PEOPLE, node_id="s")


def test_sort_injection_looking_name(transform: Any) -> None:
    out = transform("sort", {"by": [{"column": EVIL, "descending": True}]}, {EVIL: [1, 3, 2]})
    assert out.column(EVIL).to_pylist() == [3, 2, 1]


# --- derive_column --------------------------------------------------------------------------------------

ORDERS = {"price": [2.5, 10.0, None], "qty": [4, 1, 2], "Country": ["fr", "de", None]}


def test_derive_appends_and_replaces_in_order(transform: Any) -> None:
    out = transform(
        "derive_column",
        {
            "columns": [
                {"name": "total", "expression": "price * qty"},
                {"name": "country", "expression": "upper(Country)"},  # replaces 'Country' in place
                {"name": "big", "expression": "total >= 10"},  # uses the column derived above
                {"name": "share", "expression": "qty / sum(qty) OVER ()"},  # a window is fine
            ]
        },
        ORDERS,
    )
    assert out.column_names == ["price", "qty", "country", "total", "big", "share"]
    assert out.to_pylist() == [
        {"price": 2.5, "qty": 4, "country": "FR", "total": 10.0, "big": True, "share": pytest.approx(4 / 7)},
        {"price": 10.0, "qty": 1, "country": "DE", "total": 10.0, "big": True, "share": pytest.approx(1 / 7)},
        {"price": None, "qty": 2, "country": None, "total": None, "big": None, "share": pytest.approx(2 / 7)},
    ]


def test_derive_replaced_column_may_change_type(transform: Any) -> None:
    out = transform(
        "derive_column", {"columns": [{"name": "qty", "expression": "qty::VARCHAR || ' pcs'"}]}, ORDERS
    )
    assert out.column("qty").to_pylist() == ["4 pcs", "1 pcs", "2 pcs"]
    assert out.column_names == ["price", "qty", "Country"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "prize * qty",
            "derive_column node 'd', column 'total': unknown column 'prize' in expression; input columns: "
            "price, qty, Country",
        ),
        ("(SELECT max(price) FROM input_0)", "subqueries and SELECT are not allowed in the expression"),
        ("price IN (SELECT 1)", "subqueries and SELECT are not allowed"),
        ("price; DROP TABLE x", "contains ';'"),
        ("sum(price)", "aggregate function sum() is not allowed in an expression"),
        ("read_csv('/etc/passwd')", "not allowed"),
        ("price +", "cannot parse the expression"),
        ("price + Country", "DuckDB rejects the expression of column 'total' ('price + Country')"),
        ("price + 'abc'", "failed while running: Conversion Error: Could not convert string 'abc' to DOUBLE"),
        ("no_such_function(price)", "DuckDB rejects the expression of column 'total'"),
    ],
)
def test_derive_bad_expressions(transform: Any, expression: str, message: str) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform(
            "derive_column", {"columns": [{"name": "total", "expression": expression}]}, ORDERS, node_id="d"
        )
    assert str(info.value).startswith("derive_column node 'd'")
    assert message in str(info.value)


def test_derive_names_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="appears twice"):
        DeriveColumnConfig.model_validate(
            {"columns": [{"name": "a", "expression": "1"}, {"name": "A", "expression": "2"}]}
        )


def test_derive_injection_looking_names(transform: Any) -> None:
    out = transform(
        "derive_column",
        {"columns": [{"name": EVIL, "expression": '"' + EVIL.replace('"', '""') + '" * 2'}]},
        {EVIL: [1, 2]},
    )
    assert out.to_pylist() == [{EVIL: 2}, {EVIL: 4}]


# --- map_values -----------------------------------------------------------------------------------------

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


# --- fused in a chain -----------------------------------------------------------------------------------


def test_catalog_steps_fuse_in_a_chain(stage: Any, tmp_path: Path, log: Any) -> None:
    steps = [
        ChainStep("total", "derive_column", {"columns": [{"name": "total", "expression": "amount * 2"}]}),
        ChainStep("label", "map_values", {"column": "region", "mapping": {"north": "N"}, "default": "null"}),
        ChainStep(
            "by_region",
            "aggregate",
            {"group_by": ["region"], "aggregations": [{"column": "total", "function": "sum", "as": "t"}]},
        ),
        ChainStep("order", "sort", {"by": [{"column": "t", "descending": True}]}),
    ]
    handle = run_chain(steps, [stage(SALES)], str(tmp_path / "chain" / "part-00000.parquet"), log=log)
    assert pq.read_table(handle["uri"]).to_pylist() == [{"region": "N", "t": 80}, {"region": None, "t": 34}]
    text = log.text()
    assert "total (derive_column): step 1/4, rows in 6, out 6," in text
    assert "label (map_values): step 2/4, rows in 6, out 6," in text
    assert "by_region (aggregate): step 3/4, rows in 6, out 2," in text
