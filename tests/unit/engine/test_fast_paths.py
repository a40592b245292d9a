"""The engine's fast paths keep results exact: DuckDB's Parquet writer for staging, copying a staged file
that already is the requested output, single-pass chains, and the cheaper text-cleaning expression."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import files, runner
from airflow_provider_logidata.engine.chain import ChainStep, StepMetrics, run_chain
from airflow_provider_logidata.engine.sql import quote_literal
from airflow_provider_logidata.modules.transforms.clean_text import WHITESPACE, CleanTextConfig


def test_staged_columns_stay_nullable_whatever_the_data(stage: Any, tmp_path: Path) -> None:
    """A column without nulls in this run must not be staged as REQUIRED (NOT NULL downstream)."""
    handle = stage({"id": [1, 2, 2], "name": ["a", "b", "b"]})
    out = run_chain([ChainStep("d", "deduplicate", {})], [handle], str(tmp_path / "o.parquet"))
    schema = pq.read_schema(out["uri"])
    assert all(field.nullable for field in schema), schema
    assert out["schema"] == [["id", "int64"], ["name", "string"]]


def test_types_duckdb_writes_differently_go_through_arrow(stage: Any, tmp_path: Path, log: Any) -> None:
    """HUGEINT and UUID would come back as DOUBLE and an extension type from DuckDB's Parquet writer."""
    handle = stage({"n": ["170141183460469231731687303715884105727"], "u": [str(uuid.UUID(int=7))]})
    steps = [
        ChainStep(
            "typed",
            "derive_column",
            {
                "columns": [
                    {"name": "big", "expression": "CAST(n AS HUGEINT)"},
                    {"name": "id", "expression": "CAST(u AS UUID)"},
                ]
            },
        )
    ]
    out = run_chain(steps, [handle], str(tmp_path / "o.parquet"), log=log)
    table = pq.read_table(out["uri"])
    assert str(table.schema.field("big").type) == "decimal128(38, 0)"
    assert table.column("big").to_pylist()[0] == int("170141183460469231731687303715884105727")
    assert table.column("id").to_pylist() == [str(uuid.UUID(int=7))]
    assert "wrote 1 rows in 1 batch(es) to" in log.text()  # the Arrow path


def test_blocking_step_is_materialised_only_for_a_later_rescan(stage: Any, tmp_path: Path, log: Any) -> None:
    data = {"k": [1, 1, 2, 3, 3, 3, 4], "d": ["2024-01-01", "x", "2024-01-02", "", None, "2024-01-03", "y"]}
    figures: list[StepMetrics] = []
    steps = [
        ChainStep("dedupe", "deduplicate", {"columns": ["k"]}),
        ChainStep("dates", "parse_dates", {"columns": ["d"], "formats": ["%Y-%m-%d"], "on_error": "null"}),
        ChainStep("some", "filter_rows", {"condition": "k > 1"}),
    ]
    out = run_chain(steps, [stage(data)], str(tmp_path / "o.parquet"), log=log, metrics=figures)
    assert out["rows"] == 3
    # parse_dates counts the values it turns into nulls first: the dedupe is a table, so counts are exact.
    assert [(f.node_id, f.rows_in, f.rows_out) for f in figures] == [
        ("dedupe", 7, 4),
        ("dates", 4, 4),
        ("some", 4, 3),
    ]
    assert "dedupe (deduplicate): step 1/3, rows in 7, out 4," in log.text()
    assert "1 value(s) in column 'd' match none of the formats %Y-%m-%d; they become null" in log.text()


def test_counts_carried_back_from_the_final_count(stage: Any, tmp_path: Path) -> None:
    figures: list[StepMetrics] = []
    steps = [
        ChainStep("dedupe", "deduplicate", {}),
        ChainStep("tidy", "clean_text", {}),
        ChainStep("fill", "fill_nulls", {"fills": [{"column": "v", "value": "-"}]}),
    ]
    out = run_chain(
        steps, [stage({"v": ["a", "a", None, "b"]})], str(tmp_path / "o.parquet"), metrics=figures
    )
    assert out["rows"] == 3
    assert [(f.rows_in, f.rows_out) for f in figures] == [(4, 3), (3, 3), (3, 3)]
    assert all(f.seconds >= 0 for f in figures)
    assert figures[0].as_dict()["module"] == "deduplicate"


def test_failed_write_leaves_no_output_and_no_temporary_file(stage: Any, tmp_path: Path) -> None:
    steps = [ChainStep("cast", "select_columns", {"columns": [{"name": "v", "cast": "integer"}]})]
    with pytest.raises(
        Exception, match=r"select_columns node 'cast': column 'v': 1 value\(s\) cannot be cast"
    ):
        run_chain(steps, [stage({"v": ["1", "x"]})], str(tmp_path / "out" / "o.parquet"))
    assert list((tmp_path / "out").iterdir()) == []


def test_destination_copies_a_staged_file_already_in_the_requested_codec(
    stage: Any, tmp_path: Path, log: Any
) -> None:
    staged = run_chain(
        [ChainStep("d", "deduplicate", {})], [stage({"a": [1, 1, 2]})], str(tmp_path / "s" / "part.parquet")
    )
    target = tmp_path / "out.parquet"
    result = runner.run_destination(
        {"path": str(target)}, "write", [staged], module="destination.file", log=log
    )
    assert result == {"uri": target.as_posix(), "rows": 2, "format": "parquet"}
    assert target.read_bytes() == Path(staged["uri"]).read_bytes()
    assert "copied as is" in log.text()
    # Another codec: rewritten, with that codec in every column chunk.
    other = tmp_path / "snappy.parquet"
    runner.run_destination(
        {"path": str(other), "compression": "snappy"}, "write2", [staged], module="destination.file", log=log
    )
    metadata = pq.ParquetFile(other).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    assert sorted(pq.read_table(other).column("a").to_pylist()) == [1, 2]


def test_local_paths_skip_object_storage_path(tmp_path: Path) -> None:
    path = files.to_path(str(tmp_path / "x" / "part.parquet"))
    assert isinstance(path, files.LocalPath) and files.is_local(path)
    assert path.parent.path == (tmp_path / "x").as_posix() and path.name == "part.parquet"
    assert isinstance(files.to_path(f"file://{tmp_path}/y"), files.LocalPath)
    with files.atomic_local_file(str(tmp_path / "x" / "part.parquet")) as local:
        Path(local).write_bytes(b"data")
        assert not (tmp_path / "x" / "part.parquet").exists()
    assert (tmp_path / "x" / "part.parquet").read_bytes() == b"data"


TRICKY = [
    "  a  b ",
    "\ta\u00a0\u00a0b\u3000",
    "a b",
    " ",
    "",
    None,
    "x\u2028y",
    "a \t b",
    "\u00a0a",
    "a\u00a0",
    "a\r\nb",
    "a\u200bb",  # zero-width space: not white space
    "\u0085x",  # NEL: not in RE2's \s nor \p{Z}
    "\u2000\u200a\u202f\u205f\u1680x\u2029",
]


@pytest.mark.parametrize("trim", [True, False])
@pytest.mark.parametrize("collapse", [True, False])
def test_clean_text_matches_the_two_regexp_definition(trim: bool, collapse: bool) -> None:
    """The cheaper expression (collapse only what needs it, then trim()) equals trimming then collapsing
    every run of ``[\\s\\p{Z}]`` with regular expressions."""
    from airflow_provider_logidata.modules.transforms.clean_text import clean_text_expression

    con = duckdb.connect()
    con.register("t", pa.table({"v": TRICKY}))
    reference = '"v"'
    if trim:
        reference = f"regexp_replace({reference}, {quote_literal(f'^{WHITESPACE}+|{WHITESPACE}+$')}, '', 'g')"
    if collapse:
        reference = f"regexp_replace({reference}, {quote_literal(WHITESPACE + '+')}, ' ', 'g')"
    ours = clean_text_expression("v", CleanTextConfig(trim=trim, collapse_spaces=collapse, case="keep"))
    pairs = con.execute(f"SELECT {reference}, {ours} FROM t").fetchall()
    assert [left for left, _ in pairs] == [right for _, right in pairs]


def test_dedupe_by_hash_equals_distinct_on_tricky_values(stage: Any, tmp_path: Path, log: Any) -> None:
    """The two-pass dedupe of a staged input keeps exactly what SELECT DISTINCT keeps: nulls, NaN and
    -0.0 compare as DISTINCT compares them, and rows sharing a hash are still told apart."""
    values = [0.0, -0.0, float("nan"), float("nan"), None, None, 1.5, 1.5, 2.5]
    texts = ["a", "a", "n", "n", None, None, "x", "y", "z"]
    data = pa.table(
        {"v": values * 3, "t": texts * 3, "n": pa.array([[1], [1], [], [], None, None, [2], [2], [3]] * 3)}
    )
    handle = stage(data, batch_rows=4)
    figures: list[StepMetrics] = []
    out = run_chain(
        [ChainStep("d", "deduplicate", {})], [handle], str(tmp_path / "o.parquet"), log=log, metrics=figures
    )
    con = duckdb.connect()
    con.register("data", data)
    expected = con.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM data)").fetchall()[0]
    got = pq.read_table(out["uri"])
    con.register("got", got)
    assert out["rows"] == got.num_rows == (expected[0] if expected else -1)
    leftover = con.execute(
        "SELECT count(*) FROM ((SELECT DISTINCT * FROM data EXCEPT SELECT * FROM got) "
        "UNION ALL (SELECT * FROM got EXCEPT SELECT DISTINCT * FROM data))"
    ).fetchall()
    assert leftover == [(0,)]
    assert con.execute("SELECT count(*) - count(DISTINCT (v, t, n)) FROM got").fetchall() == [(0,)]


def test_dedupe_after_a_streaming_step_is_a_plain_distinct(stage: Any, tmp_path: Path) -> None:
    """Hashing first reads the input three times: only done when that re-reads a stored file."""
    from airflow_provider_logidata.engine import duck

    seen: list[str] = []
    original = duck.fetch_all

    def traced(con: Any, sql: str) -> Any:
        seen.append(sql)
        return original(con, sql)

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as patch:
        patch.setattr(duck, "fetch_all", traced)
        steps = [ChainStep("tidy", "clean_text", {}), ChainStep("d", "deduplicate", {})]
        out = run_chain(steps, [stage({"v": [" a", "a ", "b"]})], str(tmp_path / "o.parquet"))
    assert out["rows"] == 2
    created = [sql for sql in seen if sql.startswith("CREATE TEMP VIEW step_1")]
    assert created and "SELECT DISTINCT * FROM step_0" in created[0] and "hash(" not in created[0]
    first = [sql for sql in seen if sql.startswith("CREATE TEMP VIEW step_0")]
    assert "hash(" not in first[0]
