"""Fixtures for engine and module tests: real DuckDB and pyarrow on real files under tmp_path, no mocks.

Imported by the ``conftest.py`` of ``tests/unit/engine`` and ``tests/unit/modules``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class RecordingLog:
    """A logger that keeps messages, so tests can assert on what a task would log."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def info(self, msg: str, /) -> None:
        self.records.append(("info", msg))

    def warning(self, msg: str, /) -> None:
        self.records.append(("warning", msg))

    def text(self, level: str | None = None) -> str:
        return "\n".join(msg for lvl, msg in self.records if level in (None, lvl))


@pytest.fixture
def log() -> RecordingLog:
    return RecordingLog()


@pytest.fixture(autouse=True)
def _staging_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "staging"
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(root))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", "512MB")
    return root


@pytest.fixture
def stage(tmp_path: Path) -> Callable[..., Any]:
    """Write a table (pyarrow Table or dict of columns) to a staging file; returns its handle."""
    import pyarrow as pa

    from airflow_provider_logidata.engine import staging

    counter = itertools.count()

    def _stage(data: Any, *, batch_rows: int | None = None) -> staging.StagingHandle:
        table = data if isinstance(data, pa.Table) else pa.table(data)
        uri = str(tmp_path / "inputs" / f"in{next(counter)}" / staging.PART_NAME)
        return staging.write_staging(
            iter(table.to_batches(max_chunksize=batch_rows)), uri, label="test_input", schema=table.schema
        )

    return _stage


@pytest.fixture
def transform(stage: Callable[..., Any], tmp_path: Path, log: RecordingLog) -> Callable[..., Any]:
    """Run one transform module over ``data`` through the function layer; returns the output table."""
    import pyarrow.parquet as pq

    from airflow_provider_logidata.engine import runner

    counter = itertools.count()

    def _run(module: str, config: dict[str, Any], data: Any, *, node_id: str = "node") -> Any:
        handle = stage(data)
        out = str(tmp_path / "outputs" / f"{node_id}{next(counter)}" / "part-00000.parquet")
        result = runner.run_transform(config, node_id, [handle], out, module=module, log=log)
        table = pq.read_table(result["uri"])
        assert result["rows"] == table.num_rows
        assert [name for name, _ in result["schema"]] == table.column_names
        return table

    return _run


@pytest.fixture
def multi(stage: Callable[..., Any], tmp_path: Path, log: Any) -> Callable[..., Any]:
    """Run a multi-input/output module over staged ``inputs`` ({ref: data}); returns {port: table}."""
    import pyarrow.parquet as pq

    from airflow_provider_logidata.engine.multi import run_multi

    counter = itertools.count()

    def _run(module: str, config: dict[str, Any], inputs: dict[str, Any], *, node_id: str = "node") -> Any:
        handles = [stage(data) for data in inputs.values()]
        run = tmp_path / "outputs" / f"{node_id}{next(counter)}"
        result = run_multi(
            config,
            node_id,
            handles,
            list(inputs),
            lambda port: str(run / port / "part-00000.parquet"),
            module=module,
            log=log,
        )
        tables = {port: pq.read_table(handle["uri"]) for port, handle in result.items()}
        for port, table in tables.items():
            assert result[port]["rows"] == table.num_rows
            assert result[port]["uri"] == str(run / port / "part-00000.parquet")
        return tables

    return _run
