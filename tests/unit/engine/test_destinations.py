"""destination.file: Parquet and CSV output, options, and atomic replacement of the target."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner
from airflow_provider_logidata.engine.destinations import write_file
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

TABLE = pa.table({"id": [1, 2, 3], "name": ["a", "b, c", None]})


def write(stage: Any, path: Path, log: Any, **config: Any) -> dict[str, Any]:
    handle = stage(TABLE, batch_rows=1)
    return runner.run_destination(
        {"path": str(path), **config}, "write", [handle], module="destination.file", log=log
    )


def test_parquet_output_with_compression(stage: Any, tmp_path: Path, log: Any) -> None:
    target = tmp_path / "out" / "deep" / "t.parquet"  # folders are created
    result = write(stage, target, log, compression="gzip")
    assert result == {"uri": target.as_posix(), "rows": 3, "format": "parquet"}
    assert pq.read_table(target).equals(TABLE)
    assert pq.ParquetFile(target).metadata.row_group(0).column(0).compression == "GZIP"
    assert f"write: wrote 3 rows in 1 batch(es) to {target.as_posix()} in " in log.text()


def test_parquet_without_compression(stage: Any, tmp_path: Path, log: Any) -> None:
    write(stage, tmp_path / "t.parquet", log, compression="none")
    assert (
        pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0).column(0).compression == "UNCOMPRESSED"
    )


def test_csv_output_quotes_where_needed(stage: Any, tmp_path: Path, log: Any) -> None:
    target = tmp_path / "t.csv"
    write(stage, target, log, format="csv")
    text = target.read_text()
    assert text.splitlines()[0] == "id,name"
    with target.open(newline="") as handle:
        assert list(csv.reader(handle)) == [["id", "name"], ["1", "a"], ["2", "b, c"], ["3", ""]]


def test_csv_delimiter_and_no_header(stage: Any, tmp_path: Path, log: Any) -> None:
    target = tmp_path / "t.tsv"
    write(stage, target, log, format="csv", delimiter="\t", header=False)
    with target.open(newline="") as handle:
        assert list(csv.reader(handle, delimiter="\t")) == [["1", "a"], ["2", "b, c"], ["3", ""]]


def test_csv_refuses_nested_columns(stage: Any, tmp_path: Path, log: Any) -> None:
    handle = stage({"tags": [["x"]]})
    with pytest.raises(LogiDataTaskError, match=r"column\(s\) 'tags' \(list<.*cannot be written as CSV"):
        runner.run_destination(
            {"path": str(tmp_path / "t.csv"), "format": "csv"}, "w", [handle], module="destination.file"
        )


def failing_batches() -> Iterator[pa.RecordBatch]:
    yield TABLE.to_batches()[0].slice(0, 1)
    raise RuntimeError("source died mid-write")


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_failure_mid_write_leaves_old_file_untouched(tmp_path: Path, log: Any, file_format: str) -> None:
    target = tmp_path / f"report.{file_format}"
    target.write_bytes(b"the previous, complete file")
    config = FileDestinationConfig(path=str(target), format=file_format)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="source died mid-write"):
        write_file(config, "write", TABLE.schema, failing_batches(), log)
    assert target.read_bytes() == b"the previous, complete file"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # the temporary file is gone


def test_replaces_existing_file_when_complete(stage: Any, tmp_path: Path, log: Any) -> None:
    target = tmp_path / "t.parquet"
    target.write_bytes(b"old")
    write(stage, target, log)
    assert pq.read_table(target).num_rows == 3
    assert [p.name for p in tmp_path.iterdir() if p.name != "inputs"] == ["t.parquet"]


def test_unwritable_target_names_node_and_path(stage: Any, tmp_path: Path, log: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(
        LogiDataTaskError, match=r"destination.file node 'write': could not write .*file/t.parquet"
    ):
        write(stage, blocker / "t.parquet", log)


def test_destination_needs_one_input(tmp_path: Path) -> None:
    with pytest.raises(LogiDataTaskError, match="needs exactly 1 input, got 0"):
        runner.run_destination({"path": str(tmp_path / "x.parquet")}, "w", [], module="destination.file")
