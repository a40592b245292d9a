"""union through engine.multi.run_multi, for real on staged Parquet."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


# --- union ----------------------------------------------------------------------------------------------


def test_union_by_name_with_other_orders_and_a_missing_column(multi: Any, log: Any) -> None:
    out = multi(
        "union",
        {},
        {
            "jan": {"id": [1, 2], "name": ["a", "b"], "amount": [1.5, 2.5]},
            "feb": {"amount": [3.5], "id": [3], "name": ["c"]},  # other order
            "mar": {"NAME": ["d", "a"], "id": [4, 1]},  # no amount; names match ignoring case
        },
        node_id="u",
    )["out"]
    assert out.column_names == ["id", "name", "amount"]
    assert rows(out) == [(1, "a", 1.5), (2, "b", 2.5), (3, "c", 3.5), (4, "d", None), (1, "a", None)]
    assert "union node 'u': column 'amount' is missing in mar; filled with nulls" in log.text()


def test_union_new_columns_come_last_and_types_widen(multi: Any, log: Any) -> None:
    out = multi("union", {}, {"a": {"k": [1], "x": [10]}, "b": {"k": ["two"], "y": [True]}}, node_id="u")[
        "out"
    ]
    assert out.column_names == ["k", "x", "y"]
    assert rows(out) == [("1", 10, None), ("two", None, True)]
    assert "union node 'u': column 'k' is BIGINT in a, VARCHAR in b; the union makes it VARCHAR" in log.text()


def test_union_distinct_keeps_one_of_equal_rows(multi: Any) -> None:
    """As SQL's UNION: equal rows (nulls equal) kept once; row order is not kept (sort when it matters)."""
    out = multi(
        "union",
        {"distinct": True},
        {"a": {"id": [3, 1, 3], "v": ["c", "a", "c"]}, "b": {"v": ["a", "b", None], "id": [1, 2, None]}},
    )["out"]
    assert sorted(rows(out), key=repr) == sorted([(3, "c"), (1, "a"), (2, "b"), (None, None)], key=repr)


def test_union_keeps_input_order_over_many_rows(multi: Any) -> None:
    n = 40_000
    out = multi("union", {}, {"a": {"i": list(range(n))}, "b": {"i": list(range(n, 2 * n))}})["out"]
    assert out.column("i").to_pylist() == list(range(2 * n))


def test_union_needs_two_inputs(multi: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"takes at least 2 input\(s\), got 1"):
        multi("union", {}, {"a": {"i": [1]}})


def test_union_injection_looking_names(multi: Any) -> None:
    out = multi("union", {}, {"a": {EVIL: [1]}, "b": {EVIL: [2], "o": [1]}})["out"]
    assert out.to_pylist() == [{EVIL: 1, "o": None}, {EVIL: 2, "o": 1}]
