"""Limit pushdown measured in bytes: the file source is read through a counting fsspec filesystem
registered with DuckDB (the object-storage code path), so the test sees every byte the sample read."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_logidata.engine import sources
from airflow_provider_logidata.preview.execute import run_plan
from airflow_provider_logidata.preview.plan import plan_preview

PROTOCOL = "countfs"


class CountingFileSystem(LocalFileSystem):
    """Local files under a protocol of their own, counting the bytes DuckDB reads through them."""

    protocol = (PROTOCOL,)
    cachable = False  # fsspec would hand every test the same instance, counter included

    def __init__(self) -> None:
        super().__init__()
        self.bytes_read = 0

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        text = str(path)
        if text.startswith(f"{PROTOCOL}://"):
            text = text[len(PROTOCOL) + 3 :]
        return super()._strip_protocol(text)

    def unstrip_protocol(self, name: str) -> str:
        return f"{PROTOCOL}://{self._strip_protocol(name)}"

    def _open(self, path: Any, mode: str = "rb", **kwargs: Any) -> Any:
        opened = super()._open(path, mode, **kwargs)
        read = opened.read

        def counted(*args: Any) -> Any:
            data = read(*args)
            self.bytes_read += len(data)
            return data

        opened.read = counted
        return opened


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingFileSystem:
    """Route ``source.file`` through the counting filesystem (as it routes S3 through s3fs)."""
    fs = CountingFileSystem()
    real = sources.expand_path

    def expand(path_text: str, *, owner: str) -> tuple[Any, list[str], bool]:
        _, files, _ = real(path_text, owner=owner)
        return fs, files, False

    monkeypatch.setattr(sources, "expand_path", expand)
    return fs


def doc(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": "p",
        "name": "p",
        "nodes": nodes,
        "edges": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)],
    }


def source(path: Path) -> dict[str, Any]:
    return {"id": "read", "module": "source.file", "config": {"path": str(path)}}


def test_counting_filesystem_sees_the_reads(tmp_path: Path, counting: CountingFileSystem) -> None:
    """Control: a full read through the wrapper counts the whole file (the counter is not blind)."""
    path = tmp_path / "small.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(1000)))
    answer = run_plan(plan_preview(doc([source(path)]), "read", limit=1000))
    assert len(answer["rows"]) == 1000 and "countfs://" in answer["sql"]
    assert counting.bytes_read >= path.stat().st_size


def big_csv(path: Path, rows: int = 300_000, bad_tail: int = 1000) -> Path:
    """``rows`` good rows, then rows whose ``amount`` fails the INTEGER cast inferred from the head."""
    with path.open("w") as out:
        out.write("id,name,amount\n")
        out.write("".join(f"{i},name {i},{i % 7}\n" for i in range(rows)))
        out.write("".join(f"{rows + i},name {i},not a number {i}\n" for i in range(bad_tail)))
    return path


def test_csv_head_succeeds_although_the_tail_is_malformed(tmp_path: Path) -> None:
    """The head preview never reaches the rows that would fail the cast (a full pass would raise)."""
    path = big_csv(tmp_path / "big.csv")
    answer = run_plan(plan_preview(doc([source(path)]), "read", limit=100))
    assert [row[0] for row in answer["rows"]] == list(range(100))
    assert [c["type"] for c in answer["columns"]] == ["BIGINT", "VARCHAR", "BIGINT"]


def test_csv_head_reads_far_less_than_the_file(tmp_path: Path, counting: CountingFileSystem) -> None:
    """One sniff of the first 1 MB buffer (DuckDB's defaults read the 6 MB file whole, three times) and
    the estimate's 2 x 32 KB: measured 1.1 MB."""
    path = big_csv(tmp_path / "big.csv")
    answer = run_plan(plan_preview(doc([source(path)]), "read", limit=100))
    assert len(answer["rows"]) == 100
    assert counting.bytes_read < path.stat().st_size / 4, (counting.bytes_read, path.stat().st_size)
    assert answer["row_count_estimate"] == pytest.approx(301_000, rel=0.2)


def test_parquet_head_reads_only_the_first_row_groups(tmp_path: Path, counting: CountingFileSystem) -> None:
    path = tmp_path / "big.parquet"
    rows, group = 400_000, 10_000
    table = pa.table(
        {"id": pa.array(range(rows), pa.int64()), "text": [f"row {i:08d} padding" * 2 for i in range(rows)]}
    )
    pq.write_table(table, path, row_group_size=group, compression="none")
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == rows // group
    answer = run_plan(plan_preview(doc([source(path)]), "read", limit=100))
    assert [row[0] for row in answer["rows"]] == list(range(100))
    assert answer["row_count_estimate"] == rows
    size = path.stat().st_size
    first_groups = sum(metadata.row_group(i).total_byte_size for i in range(4))
    assert counting.bytes_read < size / 4, (counting.bytes_read, size, first_groups)
