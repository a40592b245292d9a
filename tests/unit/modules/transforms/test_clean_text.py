"""The clean_text module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_clean_text_defaults_trim_and_collapse_all_text_columns(transform: Any) -> None:
    out = transform(
        "clean_text",
        {},
        {"name": ["  Alice   Martin ", "\tBob\u00a0 Smith\n", None], "n": [1, 2, 3], "c": [" x ", "y", ""]},
    )
    assert rows(out) == [
        {"name": "Alice Martin", "n": 1, "c": "x"},
        {"name": "Bob Smith", "n": 2, "c": "y"},
        {"name": None, "n": 3, "c": ""},
    ]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("keep", ["carol DUPONT", "éric o'neil", "jean-luc  PICARD"]),
        ("lower", ["carol dupont", "éric o'neil", "jean-luc  picard"]),
        ("upper", ["CAROL DUPONT", "ÉRIC O'NEIL", "JEAN-LUC  PICARD"]),
        ("title", ["Carol Dupont", "Éric O'neil", "Jean-luc  Picard"]),
    ],
)
def test_clean_text_case(transform: Any, case: str, expected: list[str]) -> None:
    out = transform(
        "clean_text",
        {"case": case, "trim": False, "collapse_spaces": False},
        {"s": ["carol DUPONT", "éric o'neil", "jean-luc  PICARD"]},
    )
    assert out.column("s").to_pylist() == expected


def test_clean_text_selected_columns_and_empty_as_null(transform: Any) -> None:
    out = transform(
        "clean_text",
        {"columns": ["a"], "empty_as_null": True, "case": "upper"},
        {"a": ["  ", " x ", None], "b": ["  ", " y ", None]},
    )
    assert out.column("a").to_pylist() == [None, "X", None]
    assert out.column("b").to_pylist() == ["  ", " y ", None]


def test_clean_text_rejects_non_text_column(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"column 'n' is BIGINT, not text"):
        transform("clean_text", {"columns": ["n"]}, {"n": [1]})


def test_clean_text_injection_looking_column(transform: Any) -> None:
    out = transform("clean_text", {"columns": [EVIL], "case": "title"}, {EVIL: ["  hello   WORLD "]})
    assert out.column(EVIL).to_pylist() == ["Hello World"]
