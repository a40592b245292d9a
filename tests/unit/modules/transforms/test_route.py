"""route: two outputs, every row in exactly one."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


# --- route ----------------------------------------------------------------------------------------------

SHIPMENTS = {
    "id": [1, 2, 3, 4, 5],
    "weight": [12.5, None, 3.0, 20.0, None],
    "country": ["FR", "DE", None, "FR", "FR"],
}


def test_route_true_to_matched_false_and_null_to_unmatched(multi: Any, log: Any) -> None:
    out = multi("route", {"condition": "weight > 10 AND country = 'FR'"}, {"read": SHIPMENTS}, node_id="r")
    assert list(out) == ["matched", "unmatched"]
    assert out["matched"].column("id").to_pylist() == [1, 4]
    # 2 and 5: weight null -> condition null; 3: false (and a null country).
    assert out["unmatched"].column("id").to_pylist() == [2, 3, 5]
    assert out["unmatched"].column_names == ["id", "weight", "country"]
    assert "r (route): rows in read 5; out matched 2, unmatched 3;" in log.text()


def test_route_condition_is_checked_like_filter_rows(multi: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        multi("route", {"condition": "wieght > 10"}, {"read": SHIPMENTS}, node_id="r")
    assert str(info.value) == (
        "route node 'r': unknown column 'wieght' in condition; input columns: id, weight, country; "
        "did you mean 'weight'?"
    )
    with pytest.raises(LogiDataTaskError, match="subqueries and SELECT are not allowed"):
        multi("route", {"condition": "id IN (SELECT 1)"}, {"read": SHIPMENTS})
    with pytest.raises(LogiDataTaskError, match="DuckDB rejects the condition"):
        multi("route", {"condition": "country > 1 + []"}, {"read": SHIPMENTS})


def test_route_volatile_condition_sends_every_row_to_exactly_one_output(multi: Any) -> None:
    n = 5_000
    out = multi("route", {"condition": "random() < 0.5"}, {"read": {"id": list(range(n))}})
    matched, unmatched = (set(out[port].column("id").to_pylist()) for port in ("matched", "unmatched"))
    assert not matched & unmatched
    assert matched | unmatched == set(range(n))
    assert 0 < len(matched) < n
    assert out["matched"].column_names == ["id"]


def test_route_injection_looking_names(multi: Any) -> None:
    quoted = '"' + EVIL.replace('"', '""') + '"'
    out = multi("route", {"condition": f"{quoted} = 'it''s'"}, {"r": {EVIL: ["it's", "no"]}})
    assert out["matched"].to_pylist() == [{EVIL: "it's"}]
    assert out["unmatched"].to_pylist() == [{EVIL: "no"}]
