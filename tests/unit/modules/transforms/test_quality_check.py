"""quality_check: every check type in fail, warn and quarantine, with exact counts, examples and reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.quality_check import QualityCheckConfig

EVIL = 'x"; drop table t; --'


@pytest.fixture
def multi(multi: Callable[..., Any]) -> Callable[..., Any]:
    """Run a module over one staged input (named ``read``); returns {port: table}."""

    def _run(module: str, config: dict[str, Any], data: Any, *, node_id: str = "qc") -> Any:
        return multi(module, config, {"read": data}, node_id=node_id)

    return _run


DATA = {
    "id": [1, 2, 3, 4, 5, 6, 7],
    "email": ["a@x.io", None, "c@x.io", "c@x.io", None, "f@x", "c@x.io"],
    "status": ["new", "paid", "lost", "new", "?", None, "paid"],
    "amount": [10.0, -5.0, 30.0, 1000.0, 20.0, None, 0.0],
    "day": [dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5, 6, 7)],
}
ids = [1, 2, 3, 4, 5, 6, 7]

# One check per type, each failing on some rows; expected failing ids, report text.
CHECKS: list[tuple[dict[str, Any], list[int], str]] = [
    ({"type": "not_null", "column": "email"}, [2, 5], "not_null(email): 2 row(s) fail, e.g. rows 2, 5"),
    (
        {"type": "unique", "column": "email"},
        [3, 4, 7],
        "unique(email): 3 row(s) fail, e.g. 'c@x.io' (3 rows)",
    ),
    (
        {"type": "accepted_values", "column": "status", "values": ["new", "paid"]},
        [3, 5],
        "accepted_values(status): 2 row(s) fail, e.g. 'lost', '?'",
    ),
    (
        {"type": "range", "column": "amount", "min": 0, "max": 100},
        [2, 4],
        "range(amount): 2 row(s) fail, e.g. '-5.0', '1000.0'",
    ),
    (
        {"type": "regex", "column": "email", "pattern": "[a-z]+@[a-z]+\\.[a-z]{2,}"},
        [6],
        "regex(email): 1 row(s) fail, e.g. 'f@x'",
    ),
    (
        {
            "type": "range",
            "column": "day",
            "min": "2024-01-02",
            "max": "2024-01-06",
            "name": "in january week",
        },
        [1, 7],
        "in january week: 2 row(s) fail, e.g. '2024-01-01', '2024-01-07'",
    ),
]


@pytest.mark.parametrize(("check", "failing", "report"), CHECKS, ids=lambda v: str(v)[:40])
def test_each_check_fail_warn_quarantine(
    multi: Any, log: Any, check: dict[str, Any], failing: list[int], report: str
) -> None:
    # fail: the task fails, naming the check, the count and examples.
    with pytest.raises(LogiDataTaskError) as info:
        multi("quality_check", {"checks": [check], "action": "fail"}, DATA)
    assert str(info.value) == (
        f"quality_check node 'qc': 1 of 1 check(s) failed on 7 row(s): {report}. Fix the data upstream, "
        "change the checks, or set action to 'warn' or 'quarantine'"
    )
    # warn: logs the same and passes every row; rejected is empty but has the reason column.
    out = multi("quality_check", {"checks": [check], "action": "warn"}, DATA)
    assert out["out"].column("id").to_pylist() == ids
    assert out["rejected"].num_rows == 0
    assert out["rejected"].column_names == [*DATA, "_rejected_reason"]
    assert f"quality_check node 'qc': 1 of 1 check(s) failed on 7 row(s): {report} (action warn" in log.text(
        "warning"
    )
    # quarantine: failing rows aside, with the check named.
    out = multi("quality_check", {"checks": [check], "action": "quarantine"}, DATA)
    assert out["out"].column("id").to_pylist() == [i for i in ids if i not in failing]
    assert out["out"].column_names == list(DATA)
    assert out["rejected"].column("id").to_pylist() == failing
    label = check.get("name") or f"{check['type']}({check['column']})"
    assert set(out["rejected"].column("_rejected_reason").to_pylist()) == {label}


def test_quarantine_lists_every_failed_check_per_row(multi: Any) -> None:
    checks = [check for check, _, _ in CHECKS[:4]]
    out = multi("quality_check", {"checks": checks, "action": "quarantine"}, DATA)
    assert out["out"].column("id").to_pylist() == [1, 6]
    assert out["rejected"].select(["id", "_rejected_reason"]).to_pylist() == [
        {"id": 2, "_rejected_reason": "not_null(email); range(amount)"},
        {"id": 3, "_rejected_reason": "unique(email); accepted_values(status)"},
        {"id": 4, "_rejected_reason": "unique(email); range(amount)"},
        {"id": 5, "_rejected_reason": "not_null(email); accepted_values(status)"},
        {"id": 7, "_rejected_reason": "unique(email)"},
    ]
    # Row 6 has a null status and a null amount: nulls pass every check but not_null.
    assert out["out"].column_names == list(DATA)


def test_fail_reports_every_failed_check_and_passing_input_goes_through(multi: Any, log: Any) -> None:
    checks = [CHECKS[0][0], CHECKS[4][0], {"type": "not_null", "column": "id"}]
    with pytest.raises(LogiDataTaskError) as info:
        multi("quality_check", {"checks": checks}, DATA)
    message = str(info.value)
    assert (
        "2 of 3 check(s) failed on 7 row(s): not_null(email): 2 row(s) fail, e.g. rows 2, 5; regex(email): "
        in message
    )
    ok = multi("quality_check", {"checks": [{"type": "not_null", "column": "id"}]}, DATA)
    assert ok["out"].column("id").to_pylist() == ids
    assert "quality_check node 'qc': all 1 check(s) passed on 7 row(s)" in log.text("info")


def test_examples_are_capped_at_five_distinct_values(multi: Any) -> None:
    data = {"v": ["a", "b", "b", "c", "d", "e", "f", "g", None]}
    with pytest.raises(LogiDataTaskError) as info:
        multi(
            "quality_check", {"checks": [{"type": "accepted_values", "column": "v", "values": ["z"]}]}, data
        )
    assert "accepted_values(v): 8 row(s) fail, e.g. 'a', 'b', 'c', 'd', 'e'." in str(info.value)


@pytest.mark.parametrize(
    ("check", "action", "outcome"),
    [
        ({"min": 1, "max": 10}, "fail", "pass"),
        ({"min": 7, "max": 7}, "quarantine", "pass"),
        ({"min": 8}, "fail", "row_count_between: 7 row(s), expected at least 8"),
        ({"max": 3}, "fail", "row_count_between: 7 row(s), expected between 0 and 3"),
        ({"max": 3}, "warn", "warn"),
        ({"max": 3}, "quarantine", "row_count_between: 7 row(s), expected between 0 and 3"),
        ({"max": 3, "on_quarantine": "warn"}, "quarantine", "warn"),
    ],
)
def test_row_count_between_fails_or_warns_never_quarantines(
    multi: Any, log: Any, check: dict[str, Any], action: str, outcome: str
) -> None:
    config = {"checks": [{"type": "row_count_between", **check}], "action": action}
    if outcome not in ("pass", "warn"):
        with pytest.raises(LogiDataTaskError) as info:
            multi("quality_check", config, DATA)
        assert f"1 of 1 check(s) failed on 7 row(s): {outcome}." in str(info.value)
        return
    out = multi("quality_check", config, DATA)
    assert out["out"].column("id").to_pylist() == ids
    assert out["rejected"].num_rows == 0
    warned = "row_count_between: 7 row(s), expected between 0 and 3" in log.text("warning")
    assert warned == (outcome == "warn")


def test_row_count_with_row_checks_in_quarantine(multi: Any) -> None:
    config = {
        "checks": [{"type": "row_count_between", "min": 1, "on_quarantine": "warn"}, CHECKS[0][0]],
        "action": "quarantine",
    }
    out = multi("quality_check", config, DATA)
    assert out["rejected"].column("id").to_pylist() == [2, 5]
    empty = pa.table({k: pa.array([], type=pa.table({k: v}).schema.field(k).type) for k, v in DATA.items()})
    out = multi("quality_check", config, empty)
    assert out["out"].num_rows == 0 and out["rejected"].num_rows == 0


def test_existing_rejected_reason_is_replaced(multi: Any) -> None:
    data = {"v": [1, None], "_rejected_reason": ["old", "old"]}
    out = multi(
        "quality_check", {"checks": [{"type": "not_null", "column": "v"}], "action": "quarantine"}, data
    )
    assert out["out"].to_pylist() == [{"v": 1, "_rejected_reason": "old"}]
    assert out["rejected"].to_pylist() == [{"v": None, "_rejected_reason": "not_null(v)"}]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            {"type": "accepted_values", "column": "amount", "values": [1, "lots"]},
            "accepted value(s) 'lots' cannot be read as DOUBLE, the type of column 'amount'",
        ),
        (
            {"type": "range", "column": "amount", "min": "low"},
            "min 'low' of a range on numeric column 'amount'",
        ),
        (
            {"type": "range", "column": "day", "max": 5},
            "max 5 of a range on column 'day' (DATE) must be written as text",
        ),
        ({"type": "range", "column": "day", "max": "soon"}, "range max 'soon' cannot be read as DATE"),
        (
            {"type": "regex", "column": "email", "pattern": "(unclosed"},
            "invalid regular expression '(unclosed'",
        ),
        ({"type": "not_null", "column": "mail"}, "unknown column 'mail'; input columns: id, email, status"),
    ],
)
def test_check_config_errors_at_run_time(multi: Any, check: dict[str, Any], message: str) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        multi("quality_check", {"checks": [check]}, DATA)
    assert str(info.value).startswith("quality_check node 'qc': ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([{"type": "range", "column": "a"}], "a range check needs min, max or both"),
        ([{"type": "range", "column": "a", "min": 5, "max": 1}], r"min \(5\) is greater than max \(1\)"),
        ([{"type": "row_count_between"}], "needs min, max or both"),
        ([{"type": "not_null"}], "column"),
        ([{"type": "accepted_values", "column": "a", "values": []}], "at least 1 item"),
        ([{"type": "not_null", "column": "a", "pattern": "x"}], "Extra inputs are not permitted"),
        ([{"type": "sometimes_null", "column": "a"}], "does not match any of the expected tags"),
        ([{"type": "not_null", "column": "a"}, {"type": "not_null", "column": "a"}], "two checks are named"),
        ([], "at least 1 item"),
    ],
)
def test_check_config_validated_per_type(checks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QualityCheckConfig.model_validate({"checks": checks})


def test_injection_looking_names_and_values(multi: Any) -> None:
    data = {EVIL: ["ok", "it's", None]}
    config = {
        "checks": [
            {"type": "accepted_values", "column": EVIL, "values": ["ok"], "name": "it's; DROP TABLE t"},
            {"type": "not_null", "column": EVIL},
        ],
        "action": "quarantine",
    }
    out = multi("quality_check", config, data)
    assert out["out"].to_pylist() == [{EVIL: "ok"}]
    assert out["rejected"].to_pylist() == [
        {EVIL: "it's", "_rejected_reason": "it's; DROP TABLE t"},
        {EVIL: None, "_rejected_reason": f"not_null({EVIL})"},
    ]


def test_examples_name_rows_by_their_keys(multi: Any) -> None:
    """With keys, a failing row is named by its key values (true after a rerun), not its read position."""
    checks = [
        {"type": "not_null", "column": "email"},
        {"type": "range", "column": "amount", "min": 0},
        {"type": "unique", "column": "email"},
    ]
    with pytest.raises(LogiDataTaskError) as info:
        multi("quality_check", {"checks": checks, "keys": ["id"]}, DATA)
    message = str(info.value)
    assert "not_null(email): 2 row(s) fail, e.g. id='2'; id='5'" in message
    assert "range(amount): 1 row(s) fail, e.g. '-5.0' (id='2')" in message
    assert "unique(email): 3 row(s) fail, e.g. 'c@x.io' (3 rows)" in message
    with pytest.raises(LogiDataTaskError, match=r"key column\(s\) 'order_id' are not in the input"):
        multi("quality_check", {"checks": checks, "keys": ["order_id"]}, DATA)
    with pytest.raises(ValidationError, match="keys must not be empty"):
        QualityCheckConfig.model_validate({"checks": checks, "keys": []})


@pytest.mark.parametrize(
    ("checks", "refused"),
    [
        ([{"type": "not_null", "column": "a"}, {"type": "range", "column": "a", "min": 1}], False),
        ([{"type": "unique", "column": "a"}, {"type": "regex", "column": "a", "pattern": "[a-z]+"}], True),
    ],
)
def test_only_a_regex_check_keeps_the_node_out_of_postgres(
    checks: list[dict[str, Any]], refused: bool
) -> None:
    """RE2 (DuckDB) and PostgreSQL's regular expressions read patterns differently; every other check
    has a PostgreSQL form giving the ETL engine's verdict."""
    from airflow_provider_logidata.engine.dialects import dialect
    from airflow_provider_logidata.modules.transforms.quality_check import QualityCheckConfig, elt_refusal

    for config in ({"checks": checks}, QualityCheckConfig.model_validate({"checks": checks})):
        reason = elt_refusal(config, dialect("postgres"))
        assert (reason is not None) == refused
        assert reason is None or "RE2" in reason
