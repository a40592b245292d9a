"""source.file's module: its registry entry and config defaults (reading is tested in tests/unit/engine)."""

from __future__ import annotations

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.modules.sources.file import FileSourceConfig, open_source


def test_registered_with_its_operator_and_opener() -> None:
    module = registry()["source.file"]
    assert module.category == "source" and module.min_inputs == module.max_inputs == 0
    assert module.config_model is FileSourceConfig and module.duckdb is open_source
    assert module.operator_class().__name__ == "FileSourceOperator"


def test_config_defaults() -> None:
    config = FileSourceConfig(path="in/*.csv")
    assert (config.format, config.infer_types, config.columns, config.conn_id) == ("auto", True, None, None)
    assert (config.csv.delimiter, config.csv.header, config.csv.null_values) == (",", True, [""])
