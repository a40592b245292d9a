"""The aggregate module, run for real through DuckDB on staged Parquet, alone and fused in a chain."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.chain import ChainStep, run_chain
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.aggregate import AggregateConfig

EVIL = 'x"; drop table t; --'


def types(table: pa.Table) -> dict[str, str]:
    return {field.name: str(field.type) for field in table.schema}


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


# --- fused in a chain with the other catalog steps ----------------------------------------------------


def test_steps_fuse_in_a_chain(stage: Any, tmp_path: Path, log: Any) -> None:
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
