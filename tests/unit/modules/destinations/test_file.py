"""destination.file's module: its registry entry and config rules (writing is tested in tests/unit/engine)."""

from __future__ import annotations

import pytest

from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig, write
from airflow_provider_logidata.modules.registry import registry


def test_registered_with_its_operator_and_writer() -> None:
    module = registry()["destination.file"]
    assert module.category == "destination" and module.min_inputs == module.max_inputs == 1
    assert module.outputs == () and module.config_model is FileDestinationConfig and module.duckdb is write
    assert module.operator_class().__name__ == "FileDestinationOperator"


def test_partition_rules() -> None:
    with pytest.raises(ValueError, match="overwrite_partitions' needs partition_by"):
        FileDestinationConfig(path="x/", mode="overwrite_partitions")
    with pytest.raises(ValueError, match="repeated: country"):
        FileDestinationConfig(path="x/", partition_by=["country", "country"])
    assert FileDestinationConfig(path="x/", partition_by=[]).partition_by is None
