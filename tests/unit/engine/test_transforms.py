"""Semantics of each transform module, run for real through DuckDB on staged Parquet."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

EVIL = 'x"; drop table t; --'


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


# --- select_columns -----------------------------------------------------------------------------------


def test_select_orders_renames_and_drops(transform: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "c"}, {"name": "a", "rename": "alpha"}]},
        {"a": [1, 2], "b": ["x", "y"], "c": [True, False]},
    )
    assert out.column_names == ["c", "alpha"]
    assert rows(out) == [{"c": True, "alpha": 1}, {"c": False, "alpha": 2}]


def test_select_keep_other_columns_appends_unlisted_in_input_order(transform: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "c"}], "keep_other_columns": True},
        {"a": [1], "b": ["x"], "c": [2.5]},
    )
    assert out.column_names == ["c", "a", "b"]


def test_select_casts_every_type(transform: Any) -> None:
    out = transform(
        "select_columns",
        {
            "columns": [
                {"name": "s", "rename": "as_int", "cast": "integer"},
                {"name": "f", "rename": "as_float", "cast": "float"},
                {"name": "f", "rename": "as_decimal", "cast": "decimal"},
                {"name": "b", "rename": "as_bool", "cast": "boolean"},
                {"name": "d", "rename": "as_date", "cast": "date"},
                {"name": "d", "rename": "as_ts", "cast": "timestamp"},
                {"name": "i", "rename": "as_text", "cast": "string"},
            ]
        },
        {
            "s": ["12", None],
            "f": ["120.50", "0.1"],
            "b": ["true", "f"],
            "d": ["2024-03-01", "2024-12-31"],
            "i": [7, None],
        },
    )
    types = {field.name: str(field.type) for field in out.schema}
    assert types == {
        "as_int": "int64",
        "as_float": "double",
        "as_decimal": "decimal128(38, 9)",
        "as_bool": "bool",
        "as_date": "date32[day]",
        "as_ts": "timestamp[us]",
        "as_text": "string",
    }
    assert rows(out) == [
        {
            "as_int": 12,
            "as_float": 120.5,
            "as_decimal": decimal.Decimal("120.500000000"),
            "as_bool": True,
            "as_date": dt.date(2024, 3, 1),
            "as_ts": dt.datetime(2024, 3, 1),
            "as_text": "7",
        },
        {
            "as_int": None,
            "as_float": 0.1,
            "as_decimal": decimal.Decimal("0.100000000"),
            "as_bool": False,
            "as_date": dt.date(2024, 12, 31),
            "as_ts": dt.datetime(2024, 12, 31),
            "as_text": None,
        },
    ]


def test_select_cast_failure_names_node_column_count_and_examples(transform: Any) -> None:
    data = {"qty": ["1", "three", "2", "many", "three", "x1", "x2", "x3", "x4", None]}
    with pytest.raises(LogiDataTaskError) as info:
        transform("select_columns", {"columns": [{"name": "qty", "cast": "integer"}]}, data, node_id="typed")
    message = str(info.value)
    assert message.startswith(
        "select_columns node 'typed': column 'qty': 7 value(s) cannot be cast to integer"
    )
    # Up to five distinct examples, in input order.
    assert "e.g. 'three', 'many', 'x1', 'x2', 'x3'" in message
    assert "'x4'" not in message
    assert "on_error" in message  # the fix


def test_select_cast_failure_lists_every_failing_column(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform(
            "select_columns",
            {"columns": [{"name": "a", "cast": "integer"}, {"name": "b", "cast": "date"}]},
            {"a": ["1", "one"], "b": ["2024-01-01", "yesterday"]},
        )
    assert "column 'a': 1 value(s) cannot be cast to integer (BIGINT), e.g. 'one'" in str(info.value)
    assert "column 'b': 1 value(s) cannot be cast to date (DATE), e.g. 'yesterday'" in str(info.value)


def test_select_cast_on_error_null_nulls_and_logs_count(transform: Any, log: Any) -> None:
    out = transform(
        "select_columns",
        {"columns": [{"name": "qty", "cast": "integer"}], "on_error": "null"},
        {"qty": ["1", "three", None, "4", "many"]},
    )
    assert out.column("qty").to_pylist() == [1, None, None, 4, None]
    assert "2 value(s) in column 'qty' cannot be cast to integer" in log.text("warning")


def test_select_unknown_column_lists_input_columns(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError,
        match=r"select_columns node 'pick': unknown column 'nope'; input "
        r"columns: a, b",
    ):
        transform("select_columns", {"columns": [{"name": "nope"}]}, {"a": [1], "b": [2]}, node_id="pick")


def test_select_duplicate_output_with_kept_column_is_an_error(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match="output column 'b' would appear twice"):
        transform(
            "select_columns",
            {"columns": [{"name": "a", "rename": "b"}], "keep_other_columns": True},
            {"a": [1], "b": [2]},
        )


def test_select_matches_column_names_case_insensitively_when_unique(transform: Any) -> None:
    out = transform("select_columns", {"columns": [{"name": "amount"}]}, {"Amount": [1]})
    assert out.column_names == ["Amount"]


# --- filter_rows --------------------------------------------------------------------------------------


def test_filter_keeps_true_rows_and_drops_null(transform: Any) -> None:
    out = transform(
        "filter_rows",
        {"condition": "amount > 10 AND status <> 'test'"},
        {"amount": [5, 20, None, 30, 40], "status": ["ok", "ok", "ok", "test", None]},
    )
    assert rows(out) == [{"amount": 20, "status": "ok"}]


def test_filter_supports_functions_casts_and_lambdas(transform: Any) -> None:
    out = transform(
        "filter_rows",
        {
            "condition": "upper(name) LIKE 'A%' AND CAST(d AS DATE) >= DATE '2024-01-02' "
            "AND len(list_filter(tags, lambda t: t = 'x')) > 0"
        },
        {
            "name": ["ann", "amy", "bob"],
            "d": ["2024-01-01", "2024-01-05", "2024-01-05"],
            "tags": [["x"], ["y", "x"], ["x"]],
        },
    )
    assert out.column("name").to_pylist() == ["amy"]


def test_filter_unknown_column_message(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("filter_rows", {"condition": "foo > 1"}, {"a": [1], "b": [2], "c": [3]}, node_id="x")
    assert str(info.value).startswith(
        "filter_rows node 'x': unknown column 'foo' in condition; input columns: a, b, c"
    )


def test_filter_hint_for_unquoted_text(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"a text value needs single quotes: 'shipped'"):
        transform("filter_rows", {"condition": "status = shipped"}, {"status": ["shipped"]})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("a IN (SELECT 1)", "subqueries and SELECT are not allowed"),
        ("EXISTS (SELECT * FROM input_0)", "subqueries and SELECT are not allowed"),
        ("a > 1; DROP TABLE input_0", "contains ';'"),
        ("a > 1;", "contains ';'"),
        ("DROP TABLE input_0", "statements and table references are not allowed"),
        ("read_csv('/etc/passwd') IS NOT NULL", "not allowed"),
        ("a = ?", "parameters are not allowed"),
        ("t.a > 1", "unknown column 't'"),
        ("a >", "cannot parse the condition"),
    ],
)
def test_filter_rejects_unsafe_or_invalid_conditions(transform: Any, condition: str, expected: str) -> None:
    with pytest.raises(LogiDataTaskError, match="filter_rows node 'f': ") as info:
        transform("filter_rows", {"condition": condition}, {"a": [1, 2]}, node_id="f")
    assert expected in str(info.value)


def test_filter_type_error_from_duckdb_names_node(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"filter_rows node 'f': DuckDB rejects the condition"):
        transform("filter_rows", {"condition": "a > DATE '2024-01-01'"}, {"a": [True]}, node_id="f")


def test_filter_with_injection_looking_column_name(transform: Any) -> None:
    quoted = '"' + EVIL.replace('"', '""') + '"'
    out = transform("filter_rows", {"condition": f"{quoted} >= 2"}, {EVIL: [1, 2, 3], "b": ["p", "q", "r"]})
    assert rows(out) == [{EVIL: 2, "b": "q"}, {EVIL: 3, "b": "r"}]


# --- deduplicate --------------------------------------------------------------------------------------


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
    from airflow_provider_logidata.engine.transforms import build_deduplicate

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


# --- fill_nulls ---------------------------------------------------------------------------------------


def test_fill_constants_keep_column_types(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {
            "fills": [
                {"column": "amount", "value": 0},
                {"column": "country", "value": "unknown"},
                {"column": "flag", "value": True},
                {"column": "day", "value": "2024-01-01"},
            ]
        },
        {
            "amount": [1.5, None],
            "country": [None, "FR"],
            "flag": [None, False],
            "day": pa.array([None, dt.date(2024, 5, 1)], pa.date32()),
        },
    )
    assert [str(f.type) for f in out.schema] == ["double", "string", "bool", "date32[day]"]
    assert rows(out) == [
        {"amount": 1.5, "country": "unknown", "flag": True, "day": dt.date(2024, 1, 1)},
        {"amount": 0.0, "country": "FR", "flag": False, "day": dt.date(2024, 5, 1)},
    ]


def test_fill_statistics(transform: Any) -> None:
    data = {
        "mean_i": [1, 2, None, 4],  # mean 7/3 = 2.33 -> 2 in an integer column
        "mean_f": [1.0, 2.0, None, 4.0],
        "median": [10.0, None, 30.0, 20.0],
        "mode": ["b", "a", None, "b"],
        "tie": ["z", "y", None, None],  # tie between y and z: the smallest wins
        "min": [5, None, 3, 9],
        "max": [5, None, 3, 9],
    }
    fills = [
        {"column": "mean_i", "strategy": "mean"},
        {"column": "mean_f", "strategy": "mean"},
        {"column": "median", "strategy": "median"},
        {"column": "mode", "strategy": "mode"},
        {"column": "tie", "strategy": "mode"},
        {"column": "min", "strategy": "min"},
        {"column": "max", "strategy": "max"},
    ]
    out = transform("fill_nulls", {"fills": fills}, data)
    assert out.column("mean_i").to_pylist() == [1, 2, 2, 4]
    assert out.column("mean_f").to_pylist() == pytest.approx([1.0, 2.0, 7 / 3, 4.0])
    assert out.column("median").to_pylist() == [10.0, 20.0, 30.0, 20.0]
    assert out.column("mode").to_pylist() == ["b", "a", "b", "b"]
    assert out.column("tie").to_pylist() == ["z", "y", "y", "y"]
    assert out.column("min").to_pylist() == [5, 3, 3, 9]
    assert out.column("max").to_pylist() == [5, 9, 3, 9]
    assert str(out.schema.field("mean_i").type) == "int64"


def test_fill_several_fills_for_one_column_apply_in_order(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {"fills": [{"column": "a", "strategy": "max"}, {"column": "a", "value": -1}]},
        {"a": pa.array([None, None], pa.int64())},
    )
    assert out.column("a").to_pylist() == [-1, -1]  # no values: max is null, the constant applies


def test_fill_constant_that_does_not_fit_the_type(transform: Any) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"value 'unknown' does not fit column 'amount' of type DOUBLE"
    ):
        transform(
            "fill_nulls", {"fills": [{"column": "amount", "value": "unknown"}]}, {"amount": [1.0, None]}
        )


def test_fill_mean_needs_numbers(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError, match=r"strategy 'mean' needs a numeric column; 'name' is VARCHAR"):
        transform("fill_nulls", {"fills": [{"column": "name", "strategy": "mean"}]}, {"name": ["a", None]})


def test_fill_injection_looking_column_and_value(transform: Any) -> None:
    out = transform(
        "fill_nulls",
        {"fills": [{"column": EVIL, "value": "it's'; drop table t; --"}]},
        {EVIL: [None, "ok"]},
    )
    assert out.column(EVIL).to_pylist() == ["it's'; drop table t; --", "ok"]


# --- clean_text ---------------------------------------------------------------------------------------


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


# --- parse_dates --------------------------------------------------------------------------------------


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


def test_select_injection_looking_rename(transform: Any) -> None:
    out = transform(
        "select_columns", {"columns": [{"name": "a", "rename": EVIL, "cast": "string"}]}, {"a": [1]}
    )
    assert rows(out) == [{EVIL: "1"}]
