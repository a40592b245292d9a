"""join through engine.multi.run_multi, for real on staged Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.multi import run_multi
from airflow_provider_logidata.modules.transforms.join import JoinConfig

EVIL = 'x"; drop table t; --'


# --- join -----------------------------------------------------------------------------------------------

# Null keys never match; 'name' is on both sides (clash); customer 2 has two orders (1:N).
CUSTOMERS = {
    "id": [1, 2, 3, None],
    "name": ["Ann", "Bob", "Cat", "Nobody"],
    "city": ["Paris", "Lyon", None, "Nice"],
}
ORDERS = {"id": [2, 4, 2, None, 1], "name": ["o1", "o2", "o3", "o4", "o5"], "amount": [10, 20, 30, 40, 50]}


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_join_inner(multi: Any) -> None:
    out = multi("join", {"on": ["id"]}, {"customers": CUSTOMERS, "orders": ORDERS})["out"]
    assert out.column_names == ["id", "name", "city", "name_right", "amount"]
    # Left input order; for each left row, its matches in right order.
    assert rows(out) == [
        (1, "Ann", "Paris", "o5", 50),
        (2, "Bob", "Lyon", "o1", 10),
        (2, "Bob", "Lyon", "o3", 30),
    ]


def test_join_left(multi: Any) -> None:
    out = multi("join", {"on": ["id"], "how": "left"}, {"customers": CUSTOMERS, "orders": ORDERS})["out"]
    assert rows(out) == [
        (1, "Ann", "Paris", "o5", 50),
        (2, "Bob", "Lyon", "o1", 10),
        (2, "Bob", "Lyon", "o3", 30),
        (3, "Cat", None, None, None),
        (None, "Nobody", "Nice", None, None),
    ]


def test_join_right_takes_keys_and_order_from_the_right(multi: Any) -> None:
    out = multi("join", {"on": ["id"], "how": "right"}, {"customers": CUSTOMERS, "orders": ORDERS})["out"]
    assert out.column_names == ["id", "name", "city", "name_right", "amount"]
    assert rows(out) == [
        (2, "Bob", "Lyon", "o1", 10),
        (4, None, None, "o2", 20),
        (2, "Bob", "Lyon", "o3", 30),
        (None, None, None, "o4", 40),
        (1, "Ann", "Paris", "o5", 50),
    ]


def test_join_full_coalesces_keys_unmatched_right_rows_last(multi: Any) -> None:
    out = multi("join", {"on": ["id"], "how": "full"}, {"customers": CUSTOMERS, "orders": ORDERS})["out"]
    assert rows(out) == [
        (1, "Ann", "Paris", "o5", 50),
        (2, "Bob", "Lyon", "o1", 10),
        (2, "Bob", "Lyon", "o3", 30),
        (3, "Cat", None, None, None),
        (None, "Nobody", "Nice", None, None),
        (4, None, None, "o2", 20),
        (None, None, None, "o4", 40),
    ]


def test_join_left_on_right_on_keeps_both_keys_and_suffixes_clashes(multi: Any) -> None:
    orders = {"order_id": [7, 8], "customer_id": [3, 1], "id": [70, 80]}
    out = multi(
        "join",
        {
            "left_on": ["id"],
            "right_on": ["customer_id"],
            "how": "inner",
            "suffixes": {"left": "_c", "right": "_o"},
        },
        {"customers": CUSTOMERS, "orders": orders},
    )["out"]
    assert out.column_names == ["id_c", "name", "city", "order_id", "customer_id", "id_o"]
    assert rows(out) == [(1, "Ann", "Paris", 8, 1, 80), (3, "Cat", None, 7, 3, 70)]


def test_join_on_several_keys_and_case_insensitive_names(multi: Any) -> None:
    left = {"Year": [2024, 2024, 2025], "month": [1, 2, 1], "v": ["a", "b", "c"]}
    right = {"year": [2024, 2025, 2025], "MONTH": [2, 1, 2], "w": ["x", "y", "z"]}
    out = multi("join", {"on": ["year", "month"]}, {"l": left, "r": right})["out"]
    assert out.column_names == ["Year", "month", "v", "w"]
    assert rows(out) == [(2024, 2, "b", "x"), (2025, 1, "c", "y")]


def test_join_missing_key_names_side_column_and_columns(multi: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        multi("join", {"on": ["amount"]}, {"customers": CUSTOMERS, "orders": ORDERS}, node_id="j")
    assert str(info.value) == (
        "join node 'j': key column 'amount' is missing on the left input 'customers'; left columns: id, name, "
        "city. Fix the key in the node's config or the data upstream"
    )
    with pytest.raises(
        LogiDataTaskError,
        match=r"key column 'city' is missing on the right input 'orders'; "
        r"right columns: id, name, amount\.",
    ):
        multi("join", {"left_on": ["id"], "right_on": ["city"]}, {"customers": CUSTOMERS, "orders": ORDERS})


def test_join_keys_of_different_types(multi: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        multi("join", {"on": ["id"]}, {"a": {"id": ["1"]}, "b": {"id": [1]}}, node_id="j")
    assert str(info.value).startswith(
        "join node 'j': key 'id' is VARCHAR on the left and 'id' is BIGINT on the right; they cannot be compared."
    )


def test_join_suffix_collision_is_an_error(multi: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"output column 'v_right' would appear twice"):
        multi("join", {"on": ["k"]}, {"a": {"k": [1], "v": [1], "v_right": [2]}, "b": {"k": [1], "v": [3]}})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "set the key columns"),
        ({"on": ["a"], "left_on": ["a"], "right_on": ["b"]}, "not both"),
        ({"left_on": ["a"]}, "go together"),
        ({"left_on": ["a", "b"], "right_on": ["c"]}, "give the same number"),
        ({"on": ["a"], "how": "cross"}, "how"),
        ({"on": ["a"], "suffixes": {"left": "_x", "right": "_X"}}, "must differ"),
    ],
)
def test_join_config_is_validated(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JoinConfig.model_validate(config)


def test_join_injection_looking_names(multi: Any) -> None:
    out = multi("join", {"on": [EVIL]}, {"a": {EVIL: [1, 2], "v": ["a", "b"]}, "b": {EVIL: [2], "v": ["c"]}})[
        "out"
    ]
    assert out.to_pylist() == [{EVIL: 2, "v": "b", "v_right": "c"}]


def test_join_needs_two_inputs(multi: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"^join node 'j': takes exactly 2 input\(s\), got 1; connect left, right"
    ):
        multi("join", {"on": ["id"]}, {"a": CUSTOMERS}, node_id="j")


def test_outputs_carry_the_inputs_meta(stage: Any, tmp_path: Path) -> None:
    """Like a chain, a multi-input node passes its inputs' meta (incremental cursors) on to every output."""
    left, right = stage({"k": [1]}), stage({"k": [1]})
    left["meta"] = {"cursors": [{"key": "a", "value": 1}]}
    right["meta"] = {"cursors": [{"key": "b", "value": 2}]}
    out = run_multi(
        {"on": ["k"]},
        "j",
        [left, right],
        ["a", "b"],
        lambda port: str(tmp_path / port / "p.parquet"),
        module="join",
    )
    assert out["out"]["meta"] == {"cursors": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}
    plain = run_multi(
        {},
        "u",
        [stage({"k": [1]}), stage({"k": [2]})],
        [],
        lambda port: str(tmp_path / "u.parquet"),
        module="union",
    )
    assert "meta" not in plain["out"]
