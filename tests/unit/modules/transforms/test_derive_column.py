"""The derive_column module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.derive_column import DeriveColumnConfig

EVIL = 'x"; drop table t; --'

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
