"""Run the pack's module on real DuckDB, through LogiData's function layer, as a task would.

Self-contained on purpose: a pack published on its own has only ``airflow-provider-logidata`` to test
against, so these fixtures use its public engine API (``engine.staging``, ``engine.runner``) and
nothing of LogiData's own test suite.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Log:
    """Keeps what the step logs, for assertions on its messages."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, /) -> None:
        self.lines.append(msg)

    def warning(self, msg: str, /) -> None:
        self.lines.append(msg)


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log: Log) -> Callable[..., Any]:
    """``run(module, config, data)``: stage ``data`` (a dict of columns) as Parquet, run the module's
    transform over it and return the output as a pyarrow Table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_provider_logidata.engine import runner, staging

    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    counter = itertools.count()

    def _run(module: str, config: dict[str, Any], data: Any, *, node_id: str = "node") -> Any:
        n = next(counter)
        table = data if isinstance(data, pa.Table) else pa.table(data)
        handle = staging.write_staging(
            iter(table.to_batches()),
            str(tmp_path / "in" / str(n) / staging.PART_NAME),
            label="input",
            schema=table.schema,
        )
        out = str(tmp_path / "out" / str(n) / staging.PART_NAME)
        result = runner.run_transform(config, node_id, [handle], out, module=module, log=log)
        output = pq.read_table(result["uri"])
        assert result["rows"] == output.num_rows
        return output

    return _run
