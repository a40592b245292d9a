"""run_path (``fuse: paths``): a file source, transforms and a file destination in one DuckDB connection
give what the separate tasks give, with per-node figures, the same path policy and a confined connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner, staging
from airflow_provider_logidata.engine.chain import ChainStep, StepMetrics
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.path import _confine, run_path
from airflow_provider_logidata.security import paths

CSV = "id,name,amount,day\n" + "".join(
    f"{i},  name {i % 5}  ,{'' if i % 7 == 0 else i * 1.5},2024-01-{1 + i % 28:02d}\n" for i in range(3000)
)
STEPS = [
    ("keep", "filter_rows", {"condition": "id % 3 <> 0"}),
    ("tidy", "clean_text", {"columns": ["name"], "trim": True, "collapse_spaces": True, "case": "upper"}),
    ("fill", "fill_nulls", {"fills": [{"column": "amount", "value": 0}]}),
]


def write_csv(folder: Path, text: str = CSV) -> Path:
    path = folder / "in.csv"
    path.write_text(text)
    return path


def target(out: Path) -> dict[str, Any]:
    return {"path": str(out), "format": out.suffix.lstrip(".")}


def unfused(tmp_path: Path, csv: Path, steps: list[tuple[str, str, dict[str, Any]]], out: Path) -> Any:
    root = str(tmp_path / "staging")
    handle = runner.run_source(
        {"path": str(csv)}, "src", staging.task_output_uri("d", "r", "src", root=root), module="source.file"
    )
    for node_id, module, config in steps:
        uri = staging.task_output_uri("d", "r", node_id, root=root)
        handle = runner.run_transform(config, node_id, [handle], uri, module=module)
    return runner.run_destination(target(out), "dst", [handle], module="destination.file")


def fused(csv: Path, steps: list[tuple[str, str, dict[str, Any]]], out: Path, **kwargs: Any) -> Any:
    return run_path(
        ChainStep("src", "source.file", {"path": str(csv)}),
        [ChainStep(*step) for step in steps],
        ChainStep("dst", "destination.file", target(out)),
        **kwargs,
    )


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_fused_path_writes_what_separate_tasks_write(tmp_path: Path, log: Any, out_name: str) -> None:
    csv = write_csv(tmp_path)
    single = unfused(tmp_path, csv, STEPS, tmp_path / "single" / out_name)
    figures: list[StepMetrics] = []
    result = fused(csv, STEPS, tmp_path / "fused" / out_name, log=log, metrics=figures)
    assert result["rows"] == single["rows"] == 2000
    if out_name.endswith(".parquet"):
        assert pq.read_table(tmp_path / "fused" / out_name).equals(
            pq.read_table(tmp_path / "single" / out_name)
        )
    else:
        assert (tmp_path / "fused" / out_name).read_text() == (tmp_path / "single" / out_name).read_text()
    assert [(f.node_id, f.rows_in, f.rows_out) for f in figures] == [
        ("src", None, 3000),
        ("keep", 3000, 2000),
        ("tidy", 2000, 2000),
        ("fill", 2000, 2000),
        ("dst", 2000, 2000),
    ]
    assert all(f.seconds >= 0 for f in figures)
    lines = log.text()
    assert "fused path src -> keep -> tidy -> fill -> dst" in lines
    assert "keep (filter_rows): step 2/5, rows in 3000, out 2000" in lines


def test_source_straight_into_destination(tmp_path: Path) -> None:
    csv = write_csv(tmp_path)
    figures: list[StepMetrics] = []
    result = fused(csv, [], tmp_path / "out.parquet", metrics=figures)
    assert result["rows"] == 3000
    assert [(f.node_id, f.rows_out) for f in figures] == [("src", 3000), ("dst", 3000)]
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3000


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_source_rows_come_from_the_query_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out_name: str
) -> None:
    """After a step that drops rows, the source's rows are what its scan produced (DuckDB's profile of
    the one query), not a second read of the file."""
    from airflow_provider_logidata.engine import duck

    def no_count(*_args: Any) -> int:
        raise AssertionError("the source was read a second time to count its rows")

    monkeypatch.setattr(duck, "count_rows", no_count)
    csv = write_csv(tmp_path, "a,b\n1,x\n1,x\n2,y\n3,z\n")
    figures: list[StepMetrics] = []
    steps = [("dedupe", "deduplicate", {}), ("keep", "filter_rows", {"condition": "a < 3"})]
    fused(csv, steps, tmp_path / out_name, metrics=figures)
    assert [(f.node_id, f.rows_in, f.rows_out) for f in figures] == [
        ("src", None, 4),
        ("dedupe", 4, None),  # between two steps that drop rows, and no count re-reads the file
        ("keep", None, 2),
        ("dst", 2, 2),
    ]


def test_bad_value_leaves_the_old_file(tmp_path: Path) -> None:
    """A value that breaks its sniffed type far into the file fails the stream; the target is kept."""
    rows = (
        "".join(f"{i},{i}\n" for i in range(40_000)) + "12,oops\n" + "".join(f"{i},{i}\n" for i in range(10))
    )
    csv = write_csv(tmp_path, "id,amount\n" + rows)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"old contents")
    with pytest.raises(LogiDataTaskError, match=r"source.file node 'src'.*oops.*Nothing was loaded"):
        fused(csv, [("tidy", "clean_text", {})], out)
    assert out.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_path_outside_the_allowed_folders_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    outside = write_csv(tmp_path)
    (data / "link.csv").symlink_to(outside)
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", str(data))
    paths._cache.clear()
    try:
        for source in (outside, data / "link.csv", data / ".." / "in.csv"):
            with pytest.raises(LogiDataTaskError, match="outside the allowed folders"):
                fused(source, STEPS, data / "out.parquet")
            assert not (data / "out.parquet").exists()
        with pytest.raises(LogiDataTaskError, match="outside the allowed folders"):
            fused(write_csv(data), STEPS, tmp_path / "out.parquet")
        assert not (tmp_path / "out.parquet").exists()
    finally:
        paths._cache.clear()


def test_confined_connection_reads_only_the_source(tmp_path: Path) -> None:
    csv = write_csv(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("secret\n1\n")
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TEMP VIEW source_0 AS SELECT * FROM read_csv('{csv}')")
        _confine(con, [str(csv)])
        assert con.execute("SELECT count(*) FROM source_0").fetchone() == (3000,)
        with pytest.raises(duckdb.Error, match=r"(?i)permission|disabled"):
            con.execute(f"SELECT * FROM read_csv('{other}')").fetchall()
        with pytest.raises(duckdb.Error, match=r"(?i)permission|disabled"):
            con.execute(f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'").fetchall()
    finally:
        con.close()


def test_step_error_names_the_step(tmp_path: Path) -> None:
    csv = write_csv(tmp_path)
    with pytest.raises(LogiDataTaskError, match="filter_rows node 'keep'"):
        fused(csv, [("keep", "filter_rows", {"condition": "missing_column > 1"})], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_a_fused_path_writing_parquet_does_not_import_pyarrow(tmp_path: Path) -> None:
    """About 0.1 s of the task's start: DuckDB reads the CSV and writes the Parquet file, nothing in the
    run needs pyarrow (its errors are caught only once it is loaded: ``errors.with_arrow_errors``)."""
    import json
    import os
    import subprocess
    import sys

    csv = write_csv(tmp_path)
    out = tmp_path / "out" / "o.parquet"
    script = f"""
import json, sys
from airflow_provider_logidata.engine.chain import ChainStep
from airflow_provider_logidata.engine.path import run_path
result = run_path(
    ChainStep("src", "source.file", {{"path": {str(csv)!r}}}),
    [ChainStep(*step) for step in {STEPS!r}],
    ChainStep("dst", "destination.file", {{"path": {str(out)!r}, "format": "parquet"}}),
)
print(json.dumps({{"rows": result["rows"], "pyarrow": "pyarrow" in sys.modules}}))
"""
    env = {**os.environ, "AIRFLOW__LOGIDATA__ALLOWED_PATHS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"rows": 2000, "pyarrow": False}
    assert pq.read_table(out).num_rows == 2000


def test_arrow_errors_are_caught_once_pyarrow_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import pyarrow as pa

    from airflow_provider_logidata.engine.errors import with_arrow_errors

    assert with_arrow_errors(duckdb.Error, OSError) == (duckdb.Error, OSError, pa.ArrowException)
    monkeypatch.delitem(sys.modules, "pyarrow")
    assert with_arrow_errors(duckdb.Error, OSError) == (duckdb.Error, OSError)
