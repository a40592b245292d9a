"""source.file: CSV, Parquet and JSON lines, globs, options and errors, on real files."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner, staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.examples import DATA_DIR


@pytest.fixture
def read(tmp_path: Path, log: Any) -> Any:
    def _read(config: dict[str, Any], node_id: str = "read") -> tuple[dict[str, Any], Any]:
        out = staging.task_output_uri("dag", "run", node_id, root=str(tmp_path / "staging"))
        handle = runner.run_source(config, node_id, out, module="source.file", log=log)
        return dict(handle), pq.read_table(handle["uri"])

    return _read


def test_reads_the_bundled_orders_csv(read: Any, log: Any) -> None:
    handle, table = read({"path": str(DATA_DIR / "orders.csv"), "format": "csv"}, node_id="read_orders")
    assert handle["rows"] == 20 and handle["format"] == "parquet"
    assert handle["schema"] == [
        ["order_id", "int64"],
        ["customer", "string"],
        ["country", "string"],
        ["order_date", "string"],  # mixed formats: text, parsed later by parse_dates
        ["amount", "double"],
        ["status", "string"],
    ]
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "order_id": 1001,
        "customer": "  Alice Martin ",
        "country": "FR",
        "order_date": "2024-03-01",
        "amount": 120.5,
        "status": "shipped",
    }
    assert table.column("amount").to_pylist()[2] is None  # empty field is null
    assert f"read_orders: wrote 20 rows to {handle['uri']} in " in log.text()


def test_csv_options_and_infer_types_off(read: Any, tmp_path: Path) -> None:
    path = tmp_path / "semi.txt"
    path.write_text("1;'a;b';NA\n2;'c';3\n")
    _, table = read(
        {
            "path": str(path),
            "csv": {"delimiter": ";", "header": False, "quote": "'", "null_values": ["NA"]},
            "infer_types": False,
        }
    )
    assert [str(t) for t in table.schema.types] == ["string", "string", "string"]
    assert table.to_pylist() == [
        {"column0": "1", "column1": "a;b", "column2": None},
        {"column0": "2", "column1": "c", "column2": "3"},
    ]


def test_csv_no_null_values_keeps_empty_text(read: Any, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("a,b\n,x\n")
    _, table = read({"path": str(path), "csv": {"null_values": []}, "infer_types": False})
    assert table.to_pylist() == [{"a": "", "b": "x"}]


def test_parquet_and_jsonl_by_extension(read: Any, tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2], "d": [dt.date(2024, 1, 1), None]}), tmp_path / "t.parquet")
    _, table = read({"path": str(tmp_path / "t.parquet")})
    assert table.to_pylist() == [{"a": 1, "d": dt.date(2024, 1, 1)}, {"a": 2, "d": None}]

    lines = [{"id": 1, "tags": ["x"], "name": "a"}, {"id": 2, "tags": [], "name": None}]
    (tmp_path / "t.ndjson").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    _, table = read({"path": str(tmp_path / "t.ndjson")})
    assert table.to_pylist() == lines


def test_gzipped_csv(read: Any, tmp_path: Path) -> None:
    with gzip.open(tmp_path / "data.csv.gz", "wt") as handle:
        handle.write("a,b\n1,x\n")
    _, table = read({"path": str(tmp_path / "data.csv.gz")})
    assert table.to_pylist() == [{"a": 1, "b": "x"}]


def test_glob_reads_every_match_in_path_order(read: Any, tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "2024" / "03").mkdir(parents=True)
    (root / "a.csv").write_text("id,name\n1,a\n")
    (root / "2024" / "b.csv").write_text("id,name\n2,b\n")
    (root / "2024" / "03" / "c.csv").write_text("id,name,extra\n3,c,x1\n")
    (root / "2024" / ".d.csv.tmp-123").write_text("id,name\n9,hidden\n")
    (root / "2024" / ".hidden.csv").write_text("id,name\n9,hidden\n")
    (root / "2024" / "notes.md").write_text("not data")

    _, table = read({"path": str(root / "*.csv")})
    assert table.column("id").to_pylist() == [1]

    handle, table = read({"path": str(root / "**" / "*.csv")})
    # Files sorted by path; differing columns are united by name.
    assert table.to_pylist() == [
        {"id": 3, "name": "c", "extra": "x1"},
        {"id": 2, "name": "b", "extra": None},
        {"id": 1, "name": "a", "extra": None},
    ]
    assert handle["rows"] == 3


def test_glob_without_match_names_the_pattern(read: Any, tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing" / "*.csv")
    with pytest.raises(LogiDataTaskError) as info:
        read({"path": pattern}, node_id="src")
    assert str(info.value).startswith(f"source.file node 'src': no file matches '{pattern}'")


def test_missing_file_names_the_path(read: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "nope" / "orders.csv")
    with pytest.raises(LogiDataTaskError, match=f"source.file node 'src': file not found: '{path}'"):
        read({"path": path}, node_id="src")


def test_folder_suggests_a_glob(read: Any, tmp_path: Path) -> None:
    with pytest.raises(LogiDataTaskError, match=r"is a folder; use a glob such as .*/\*\.csv"):
        read({"path": str(tmp_path)})


def test_auto_format_unknown_extension(read: Any, tmp_path: Path) -> None:
    (tmp_path / "book.xlsx").write_bytes(b"PK")
    with pytest.raises(LogiDataTaskError, match=r"from its extension \.xlsx; known extensions: .*Set format"):
        read({"path": str(tmp_path / "book.xlsx")})


def test_explicit_format_overrides_extension(read: Any, tmp_path: Path) -> None:
    (tmp_path / "data.dat").write_text("a|b\n1|2\n")
    _, table = read({"path": str(tmp_path / "data.dat"), "format": "csv", "csv": {"delimiter": "|"}})
    assert table.to_pylist() == [{"a": 1, "b": 2}]


def test_columns_subset_in_requested_order(read: Any) -> None:
    _, table = read({"path": str(DATA_DIR / "orders.csv"), "columns": ["status", "order_id"]})
    assert table.column_names == ["status", "order_id"]
    assert table.num_rows == 20


def test_missing_column_lists_available(read: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({"path": str(DATA_DIR / "orders.csv"), "columns": ["order_id", "price"]}, node_id="src")
    assert "column 'price' is not in" in str(info.value)
    assert "available columns: order_id, customer, country, order_date, amount, status" in str(info.value)


def test_injection_looking_column_names_pass_through(read: Any, tmp_path: Path) -> None:
    evil = 'x"; drop table t; --'
    pq.write_table(pa.table({evil: [1], "b": [2]}), tmp_path / "evil.parquet")
    _, table = read({"path": str(tmp_path / "evil.parquet"), "columns": [evil]})
    assert table.to_pylist() == [{evil: 1}]


def test_type_conflict_after_sniffing_suggests_infer_types_off(read: Any, tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("n\n" + "1\n" * 30_000 + "oops\n")
    with pytest.raises(LogiDataTaskError, match=r"source.file node 'read': .*infer_types to false"):
        read({"path": str(path)})


def test_stages_in_row_groups_of_batch_rows(
    read: Any, tmp_path: Path, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__BATCH_ROWS", "2048")
    path = tmp_path / "big.csv"
    path.write_text("i,s\n" + "".join(f"{i},v{i % 7}\n" for i in range(50_000)))
    handle, table = read({"path": str(path)})
    assert handle["rows"] == 50_000
    assert table.column("i").to_pylist() == list(range(50_000))
    assert "read: wrote 50000 rows to " in log.text()
    assert pq.ParquetFile(handle["uri"]).num_row_groups > 1  # row groups of batch_rows rows


def test_any_order_staging_keeps_every_row(tmp_path: Path, log: Any) -> None:
    """``keep_order=False`` (set by the factory when no consumer can observe order) stages the same rows,
    says so in the log, and the default keeps file order."""
    rows = 300_000  # several CSV buffers and row groups, read by DuckDB's threads
    path = tmp_path / "big.csv"
    path.write_text("id,name\n" + "".join(f"{i},n{i % 97}\n" for i in range(rows)))
    config = {"path": str(path), "format": "csv"}
    ordered = runner.run_source(config, "src", str(tmp_path / "a" / staging.PART_NAME), module="source.file")
    loose = runner.run_source(
        config,
        "src",
        str(tmp_path / "b" / staging.PART_NAME),
        module="source.file",
        log=log,
        keep_order=False,
    )
    assert ordered["rows"] == loose["rows"] == rows
    first = pq.read_table(ordered["uri"])
    second = pq.read_table(loose["uri"])
    assert first.column("id").to_pylist() == list(range(rows))
    assert sorted(second.column("id").to_pylist()) == list(range(rows))
    assert first.sort_by("id").equals(second.sort_by("id"))
    assert "staging rows in any order" in log.text()
