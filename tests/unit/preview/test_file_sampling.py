"""File sources in previews: head reads bounded for previews only, the same column types as a run, the
fallback for lines longer than the head's buffer, the run's error messages, and row count estimates."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_logidata.engine import sources
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.sources.file import FileSourceConfig
from airflow_provider_logidata.preview.sampling import ESTIMATE_SAMPLE_BYTES, sample_file

log = logging.getLogger("test_file_sampling")


def head(path: Path | str, rows: int = 10, **config: Any) -> Any:
    return sample_file({"path": str(path), **config}, "read", rows, "head", None, log)


def run_types(path: Path | str, **config: Any) -> list[tuple[str, str]]:
    """The columns a run reads: the registered source's own DESCRIBE, with the run's options."""
    validated = FileSourceConfig.model_validate({"path": str(path), **config})
    with sources.open_file_source(validated, "read", log) as query:
        assert isinstance(query, sources.DuckQuery)
        return [(str(r[0]), str(r[1])) for r in query.con.execute(f"DESCRIBE {query.sql}").fetchall()]


def arrow_types(table: pa.Table) -> list[str]:
    return [str(field.type) for field in table.schema]


def write_lines(path: Path, lines: list[str], *, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


# ------------------------------------------------------------------------------------- head reads only


def test_runs_keep_the_default_reader_options() -> None:
    config = FileSourceConfig(path="x.csv")
    run = sources.reader_sql(config, "csv", ["/data/x.csv"])
    assert "buffer_size" not in run and "parallel" not in run
    preview = sources.reader_sql(config, "csv", ["/data/x.csv"], head=True)
    assert f"buffer_size={sources.HEAD_CSV_BUFFER_BYTES}" in preview and "parallel=false" in preview
    assert sources.reader_sql(config, "parquet", ["/x.parquet"], head=True) == "read_parquet(['/x.parquet'])"


def test_head_filesystem_is_a_copy_without_readahead() -> None:
    from s3fs import S3FileSystem

    fs = S3FileSystem(anon=True, skip_instance_cache=True)
    before = (fs.default_block_size, fs.default_cache_type)
    bounded = sources.head_filesystem(fs)
    assert bounded is not fs and type(bounded) is type(fs)
    assert bounded.default_block_size == sources.HEAD_REMOTE_BLOCK_BYTES
    assert bounded.default_cache_type == "none"
    assert (fs.default_block_size, fs.default_cache_type) == before  # the shared instance is untouched
    assert bounded.dircache is fs.dircache and bounded.protocol == fs.protocol
    local = LocalFileSystem()
    assert sources.head_filesystem(local) is local


# --------------------------------------------------------------------------------- same types as the run


def decimal_at(path: Path, row: int, rows: int = 40_000) -> Path:
    """Integers, except one decimal at ``row`` (DuckDB sniffs types on the first 20,480 rows)."""
    return write_lines(path, ["id,v"] + [f"{i},{'1.5' if i == row else i % 7}" for i in range(rows)])


@pytest.mark.parametrize(("row", "expected"), [(3_000, "DOUBLE"), (15_000, "DOUBLE"), (30_000, "BIGINT")])
def test_head_types_match_the_run(tmp_path: Path, row: int, expected: str) -> None:
    """The head keeps the run's sniff sample: a decimal at row 15,000 makes the column DOUBLE in both
    (a 2,048-row sample would say BIGINT); past the sample, both say BIGINT."""
    path = decimal_at(tmp_path / "in.csv", row)
    assert run_types(path) == [("id", "BIGINT"), ("v", expected)]
    sample = head(path)
    assert arrow_types(sample.table) == ["int64", "double" if expected == "DOUBLE" else "int64"]
    assert "buffer_size=" in sample.sql and sample.sql.endswith("LIMIT 10")


def test_head_of_a_file_larger_than_the_buffer_matches_the_run(tmp_path: Path) -> None:
    lines = ["id,day,amount,name"] + [
        f"{i},2024-01-{i % 28 + 1:02d},{i % 100}.25,n{i}" for i in range(100_000)
    ]
    path = write_lines(tmp_path / "wide.csv", lines)
    assert path.stat().st_size > sources.HEAD_CSV_BUFFER_BYTES
    sample = head(path, rows=5)
    assert sample.table.column("id").to_pylist() == [0, 1, 2, 3, 4]
    expected = {"BIGINT": "int64", "DATE": "date32[day]", "DOUBLE": "double", "VARCHAR": "string"}
    assert arrow_types(sample.table) == [expected[kind] for _, kind in run_types(path)]


# ------------------------------------------------------------------------------- fallback and errors


def test_a_line_longer_than_the_head_buffer_is_read_with_the_run_options(tmp_path: Path) -> None:
    long_value = "x" * (sources.HEAD_CSV_BUFFER_BYTES + 500_000)  # under the run's 2 MB line limit
    path = write_lines(tmp_path / "long.csv", ["id,v", f"1,{long_value}", "2,y"])
    sample = head(path)
    assert sample.table.column("id").to_pylist() == [1, 2]
    assert len(sample.table.column("v")[0].as_py()) == len(long_value)
    assert "buffer_size=" not in sample.sql  # the second attempt: the run's reader


def test_selected_columns_and_a_missing_one(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.csv", ["a,b,c", "1,x,2.5", "2,y,3.5"])
    sample = head(path, columns=["c", "a"])
    assert sample.table.column_names == ["c", "a"] and sample.table.column("a").to_pylist() == [1, 2]
    with pytest.raises(LogiDataTaskError, match=r"column 'nope' is not in .*available columns: a, b, c"):
        head(path, columns=["a", "nope"])


def test_unreadable_parquet_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(LogiDataTaskError, match=r"cannot read .*broken\.parquet.* as parquet"):
        head(path)


def test_bad_values_past_the_head_do_not_fail_it(tmp_path: Path) -> None:
    lines = ["id,v"] + [f"{i},{i}" for i in range(30_000)] + ["30000,not a number"]
    sample = head(write_lines(tmp_path / "in.csv", lines), rows=3)
    assert sample.table.column("v").to_pylist() == [0, 1, 2]


# ------------------------------------------------------------------------------------ row estimates


def test_csv_estimate_is_exact_for_a_small_file(tmp_path: Path) -> None:
    lines = ["id,name"] + [f"{i},name {i}" for i in range(50)]
    assert head(write_lines(tmp_path / "a.csv", lines)).row_count_estimate == 50
    assert head(write_lines(tmp_path / "b.csv", lines, end="")).row_count_estimate == 50  # no final break
    no_header = {"csv": {"header": False}}
    assert head(write_lines(tmp_path / "c.csv", lines[1:]), **no_header).row_count_estimate == 50
    assert head(write_lines(tmp_path / "d.csv", ["id,name"])).row_count_estimate == 0


def test_csv_estimate_of_a_large_file(tmp_path: Path) -> None:
    """Rows grow longer along the file (ids from 1 to 7 digits): start and end samples together land
    within a few percent where the start alone was 15-25 % high."""
    rows = 1_000_000
    lines = ["id,city,amount"] + [f"{i},City {i % 977},{i % 100}.5" for i in range(rows)]
    path = write_lines(tmp_path / "big.csv", lines)
    assert path.stat().st_size > 100 * ESTIMATE_SAMPLE_BYTES
    sample = head(path, rows=5)
    assert sample.table.num_rows == 5
    assert sample.row_count_estimate == pytest.approx(rows, rel=0.1)


def test_csv_estimate_over_a_glob(tmp_path: Path) -> None:
    for name, count in (("a", 30_000), ("b", 10_000)):
        write_lines(tmp_path / f"{name}.csv", ["id,v"] + [f"{i:06d},{i % 10}" for i in range(count)])
    assert head(tmp_path / "*.csv").row_count_estimate == pytest.approx(40_000, rel=0.02)


def test_jsonl_estimate(tmp_path: Path) -> None:
    records = [json.dumps({"id": i, "name": f"n{i:05d}"}) for i in range(20_000)]
    sample = head(write_lines(tmp_path / "in.jsonl", records))
    assert sample.row_count_estimate == pytest.approx(20_000, rel=0.05)


def test_compressed_csv_has_no_estimate(tmp_path: Path) -> None:
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(("id\n" + "".join(f"{i}\n" for i in range(1000))).encode()))
    sample = head(path, rows=3)
    assert sample.table.column("id").to_pylist() == [0, 1, 2]
    assert sample.row_count_estimate is None


def test_random_sample_reads_with_the_run_options_and_estimates(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.csv", ["id"] + [str(i) for i in range(5000)])
    sample = sample_file({"path": str(path)}, "read", 20, "random", 7, log)
    assert sample.table.num_rows == 20 and "USING SAMPLE" in sample.sql and "buffer_size" not in sample.sql
    assert sample.row_count_estimate == 5000


def test_parquet_estimate_from_the_footers(tmp_path: Path) -> None:
    for name in ("a", "b"):
        pq.write_table(pa.table({"x": list(range(1234))}), tmp_path / f"{name}.parquet")
    assert head(tmp_path / "*.parquet").row_count_estimate == 2468
