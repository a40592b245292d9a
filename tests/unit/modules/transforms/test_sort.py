"""The sort module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'

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
