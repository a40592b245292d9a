"""The parse_dates module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def test_parse_dates_tries_formats_in_order(transform: Any) -> None:
    out = transform(
        "parse_dates",
        {"columns": ["d"], "formats": ["%Y-%m-%d", "%d/%m/%Y"]},
        {"d": ["2024-03-01", "01/03/2024", " 02/03/2024 ", "", None], "other": [1, 2, 3, 4, 5]},
    )
    assert str(out.schema.field("d").type) == "date32[day]"
    assert out.column_names == ["d", "other"]
    assert out.column("d").to_pylist() == [
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 2),
        None,
        None,
    ]


def test_parse_dates_to_timestamp(transform: Any) -> None:
    out = transform(
        "parse_dates",
        {"columns": ["t"], "formats": ["%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"], "target": "timestamp"},
        {"t": ["2024-03-01T10:20:30", "02/03/2024 08:15"]},
    )
    assert out.column("t").to_pylist() == [
        dt.datetime(2024, 3, 1, 10, 20, 30),
        dt.datetime(2024, 3, 2, 8, 15),
    ]


def test_parse_dates_failure_message(transform: Any) -> None:
    data = {"d": ["2024-03-01", "03/01/2024", "n/a", "03/01/2024", "soon"]}
    with pytest.raises(LogiDataTaskError) as info:
        transform("parse_dates", {"columns": ["d"], "formats": ["%Y-%m-%d"]}, data, node_id="when")
    assert str(info.value).startswith(
        "parse_dates node 'when': column 'd': 4 value(s) match none of the formats %Y-%m-%d, "
        "e.g. '03/01/2024', 'n/a', 'soon'."
    )


def test_parse_dates_failure_is_found_in_the_single_pass(
    stage: Any, tmp_path: Path, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under on_error = fail no query scans the data before the step runs; a bad value stops the write
    itself, and only then are the counts and examples gathered (same message as a check up front)."""
    from airflow_provider_logidata.engine import duck
    from airflow_provider_logidata.engine.chain import ChainStep, run_chain

    seen: list[str] = []
    original = duck.fetch_all

    def traced(con: Any, sql: str) -> Any:
        seen.append(sql)
        return original(con, sql)

    monkeypatch.setattr(duck, "fetch_all", traced)
    config = {"columns": ["d"], "formats": ["%Y-%m-%d"]}
    good = stage({"d": ["2024-01-02", " 2024-01-03 ", "", None]})
    out = run_chain([ChainStep("when", "parse_dates", config)], [good], str(tmp_path / "ok.parquet"), log=log)
    assert out["rows"] == 4
    scans = [sql for sql in seen if sql.startswith("SELECT") and " FROM " in sql]  # data queries
    assert scans == [], scans
    bad = stage({"d": ["2024-01-02", "02/01/2024", "x", "x"]})
    with pytest.raises(
        LogiDataTaskError,
        match=r"^parse_dates node 'when': column 'd': 3 value\(s\) match none of the formats %Y-%m-%d, "
        r"e\.g\. '02/01/2024', 'x'",
    ):
        run_chain([ChainStep("when", "parse_dates", config)], [bad], str(tmp_path / "bad.parquet"))
    assert not (tmp_path / "bad.parquet").exists()
    assert not list(tmp_path.glob(".bad.parquet*")), "the partial file is removed"


def test_parse_dates_on_error_null(transform: Any, log: Any) -> None:
    out = transform(
        "parse_dates",
        {"columns": ["d"], "formats": ["%Y-%m-%d"], "on_error": "null"},
        {"d": ["2024-03-01", "bad"]},
    )
    assert out.column("d").to_pylist() == [dt.date(2024, 3, 1), None]
    assert "1 value(s) in column 'd' match none of the formats" in log.text("warning")


def test_parse_dates_invalid_format(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"invalid date format '%Q'"):
        transform("parse_dates", {"columns": ["d"], "formats": ["%Q"]}, {"d": ["x"]})


def test_parse_dates_converts_date_columns_without_parsing(transform: Any) -> None:
    out = transform(
        "parse_dates",
        {"columns": ["d"], "formats": ["%d/%m/%Y"], "target": "timestamp"},
        {"d": pa.array([dt.date(2024, 1, 2)], pa.date32())},
    )
    assert out.column("d").to_pylist() == [dt.datetime(2024, 1, 2)]


def test_parse_dates_injection_looking_column(transform: Any) -> None:
    out = transform("parse_dates", {"columns": [EVIL], "formats": ["%Y%m%d"]}, {EVIL: ["20240102"]})
    assert out.column(EVIL).to_pylist() == [dt.date(2024, 1, 2)]
