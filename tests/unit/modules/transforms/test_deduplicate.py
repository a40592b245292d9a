"""The deduplicate module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


DUPES = {
    "k": [3, 1, 3, 2, 1, 3],
    "v": ["a", "b", "c", "d", "e", "f"],
}


def test_deduplicate_keep_first_keeps_input_order(transform: Any) -> None:
    out = transform("deduplicate", {"columns": ["k"], "keep": "first"}, DUPES)
    assert rows(out) == [{"k": 3, "v": "a"}, {"k": 1, "v": "b"}, {"k": 2, "v": "d"}]


def test_deduplicate_keep_last_keeps_input_order_of_kept_rows(transform: Any) -> None:
    out = transform("deduplicate", {"columns": ["k"], "keep": "last"}, DUPES)
    assert rows(out) == [{"k": 2, "v": "d"}, {"k": 1, "v": "e"}, {"k": 3, "v": "f"}]


def test_deduplicate_all_columns_treats_nulls_as_equal(transform: Any) -> None:
    """On every column the kept rows are the same whichever is kept; their order is not input order."""
    data = {"a": [1, 1, None, None, 1], "b": ["x", "x", None, None, "y"]}
    expected = [{"a": 1, "b": "x"}, {"a": None, "b": None}, {"a": 1, "b": "y"}]
    for keep in ("first", "last"):
        out = transform("deduplicate", {"keep": keep}, data)
        assert sorted(rows(out), key=repr) == sorted(expected, key=repr)


def test_deduplicate_every_column_listed_is_a_plain_distinct(transform: Any) -> None:
    from airflow_provider_logidata.modules.transforms.deduplicate import build_duckdb as build_deduplicate

    assert build_deduplicate.__doc__ and "SELECT DISTINCT" in build_deduplicate.__doc__
    many = pa.table(
        {"k": pa.array([i % 1000 for i in range(60_000)]), "v": pa.array([i % 7 for i in range(60_000)])}
    )
    out = transform("deduplicate", {"columns": ["v", "k"]}, many)
    assert (
        out.num_rows == 7000
        and len(set(zip(out["k"].to_pylist(), out["v"].to_pylist(), strict=True))) == 7000
    )


def test_deduplicate_injection_looking_key_and_helper_name_collision(transform: Any) -> None:
    out = transform(
        "deduplicate",
        {"columns": [EVIL]},
        {EVIL: [1, 1, 2], "__logidata_row": [10, 20, 30]},
    )
    assert rows(out) == [{EVIL: 1, "__logidata_row": 10}, {EVIL: 2, "__logidata_row": 30}]


def test_deduplicate_keeps_order_over_many_batches_and_threads(
    transform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__DUCKDB_THREADS", "4")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__BATCH_ROWS", "1024")
    n = 200_000
    data = pa.table({"i": pa.array(range(n)), "k": pa.array([i % 997 for i in range(n)])})
    first = transform("deduplicate", {"columns": ["k"], "keep": "first"}, data)
    assert first.column("i").to_pylist() == list(range(997))
    last = transform("deduplicate", {"columns": ["k"], "keep": "last"}, data)
    assert last.column("i").to_pylist() == list(range(n - 997, n))


def test_deduplicate_unknown_key(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"deduplicate node 'node': unknown column 'id'; input columns: k, v"
    ):
        transform("deduplicate", {"columns": ["id"]}, DUPES)
