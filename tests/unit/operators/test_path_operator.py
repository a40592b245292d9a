"""FusedPathOperator: every node's rendered config goes through its own module's security policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.operators.path import FusedPathOperator
from airflow_provider_logidata.security import paths


@pytest.fixture
def allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", str(data))
    paths._cache.clear()
    yield data
    paths._cache.clear()


def operator(source: str, destination: str) -> FusedPathOperator:
    return FusedPathOperator(
        task_id="write",
        config={
            "source": {"node_id": "read", "module": "source.file", "config": {"path": "{{ params.src }}"}},
            "steps": [{"node_id": "tidy", "module": "clean_text", "config": {}}],
            "destination": {
                "node_id": "write",
                "module": "destination.file",
                "config": {"path": destination},
            },
        },
    )


def test_rendered_paths_are_checked_per_node(allowed: Path, tmp_path: Path) -> None:
    task = operator("{{ params.src }}", str(allowed / "out.parquet"))
    task.config["source"]["config"]["path"] = str(tmp_path / "elsewhere.csv")  # as a template rendered it
    with pytest.raises(LogiDataTaskError, match=r"source\.config\.path: path .* outside the allowed folders"):
        task.rendered_config()
    task.config["source"]["config"]["path"] = str(allowed / "in.csv")
    task.config["destination"]["config"]["path"] = str(tmp_path / "out.parquet")
    with pytest.raises(
        LogiDataTaskError, match=r"destination\.config\.path: path .* outside the allowed folders"
    ):
        task.rendered_config()
    task.config["destination"]["config"]["path"] = str(allowed / "out.parquet")
    assert task.rendered_config().source.config["path"] == str(allowed / "in.csv")
