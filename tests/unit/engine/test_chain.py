"""run_chain: stacked views in one DuckDB connection give the same result as single steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner, staging
from airflow_provider_logidata.engine.chain import ChainStep, run_chain
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.deduplicate import DeduplicateConfig

DATA = {
    "id": [1, 2, 2, 3, 4, 4, 5],
    "name": ["  ann ", "BOB", "BOB", "cat  x", None, None, "dan"],
    "amount": [10.0, None, None, 5.0, 7.0, 7.0, -1.0],
}
STEPS = [
    ("dedupe", "deduplicate", {"columns": ["id"]}),
    ("tidy", "clean_text", {"case": "title"}),
    ("positive", "filter_rows", {"condition": "coalesce(amount, 0) >= 0"}),
]


def test_three_step_chain_equals_three_single_steps(stage: Any, tmp_path: Path, log: Any) -> None:
    source = stage(DATA)
    handle = source
    for node_id, module, config in STEPS:
        out = staging.task_output_uri("d", "r", node_id, root=str(tmp_path / "single"))
        handle = runner.run_transform(config, node_id, [handle], out, module=module)
    single = pq.read_table(handle["uri"])

    chained = run_chain(
        [ChainStep(node_id, module, config) for node_id, module, config in STEPS],
        [source],
        str(tmp_path / "chain" / "part-00000.parquet"),
        log=log,
    )
    fused = pq.read_table(chained["uri"])
    assert fused.equals(single)
    assert fused.to_pylist() == [
        {"id": 1, "name": "Ann", "amount": 10.0},
        {"id": 2, "name": "Bob", "amount": None},
        {"id": 3, "name": "Cat X", "amount": 5.0},
        {"id": 4, "name": None, "amount": 7.0},
    ]
    assert chained["rows"] == 4 == handle["rows"]
    text = log.text()
    # The key dedupe stays a view (nothing later reads its input twice), so counting its rows would
    # compute it again: unknown, as is what flows through clean_text into the filter.
    assert "dedupe (deduplicate): step 1/3, rows in 7, out ?," in text
    assert "tidy (clean_text): step 2/3, rows in ?, out ?," in text
    assert "positive (filter_rows): step 3/3, rows in ?, out 4," in text
    assert "dedupe -> tidy -> positive: wrote 4 rows to " in text


def test_chain_without_step_counts(stage: Any, tmp_path: Path, log: Any) -> None:
    steps = [ChainStep(n, m, c) for n, m, c in STEPS]
    out = run_chain(steps, [stage(DATA)], str(tmp_path / "o.parquet"), log=log, count_steps=False)
    assert out["rows"] == 4
    assert "positive (filter_rows): step 3/3, rows in ?, out 4," in log.text()


def test_chain_accepts_config_models(stage: Any, tmp_path: Path) -> None:
    step = ChainStep("d", "deduplicate", DeduplicateConfig(columns=["id"], keep="last"))
    out = run_chain([step], [stage(DATA)], str(tmp_path / "o.parquet"))
    assert pq.read_table(out["uri"]).column("id").to_pylist() == [1, 2, 3, 4, 5]


def test_error_in_a_later_step_names_that_node(stage: Any, tmp_path: Path) -> None:
    steps = [ChainStep(n, m, c) for n, m, c in STEPS] + [
        ChainStep("typed", "select_columns", {"columns": [{"name": "name", "cast": "integer"}]})
    ]
    with pytest.raises(
        LogiDataTaskError,
        match=r"^select_columns node 'typed': column 'name': 3 value\(s\) cannot be cast to integer",
    ):
        run_chain(steps, [stage(DATA)], str(tmp_path / "o.parquet"))
    assert not (tmp_path / "o.parquet").exists()


def test_chain_rejects_non_transforms_and_bad_configs(stage: Any, tmp_path: Path) -> None:
    handle = stage(DATA)
    with pytest.raises(LogiDataTaskError, match=r"source.file node 's': 'source.file' is not a transform"):
        run_chain([ChainStep("s", "source.file", {"path": "x"})], [handle], str(tmp_path / "o.parquet"))
    with pytest.raises(LogiDataTaskError, match=r"(?s)filter_rows node 'f': invalid config: .*condition"):
        run_chain([ChainStep("f", "filter_rows", {})], [handle], str(tmp_path / "o.parquet"))


def test_chain_needs_exactly_one_input(stage: Any, tmp_path: Path) -> None:
    with pytest.raises(LogiDataTaskError, match=r"deduplicate node 'd': needs exactly 1 input, got 0"):
        run_chain([ChainStep("d", "deduplicate", {})], [], str(tmp_path / "o.parquet"))


def test_transforms_cannot_touch_files_from_sql(stage: Any, tmp_path: Path) -> None:
    """Defence in depth: even SQL that got past validation runs without file access."""
    from airflow_provider_logidata.engine import duck

    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    handle = stage({"a": [1]})
    inputs = duck.locate_inputs([handle])
    with duck.connect(external_access=False, inputs=inputs) as con:
        assert duck.fetch_value(con, "SELECT count(*) FROM input_0") == 1
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
            f"SELECT * FROM glob('{tmp_path}/*')",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                duck.fetch_all(con, sql)
    assert not (tmp_path / "written.csv").exists()


def test_memory_limit_and_spill(stage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dedupe larger than DuckDB's memory limit spills to the task's temp folder instead of failing."""
    monkeypatch.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__DUCKDB_THREADS", "2")
    n = 1_500_000
    table = pa.table({"k": pa.array(range(n)), "pad": pa.array(["x" * 40] * n)})
    out = run_chain([ChainStep("d", "deduplicate", {})], [stage(table)], str(tmp_path / "o.parquet"))
    assert out["rows"] == n
