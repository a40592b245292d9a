"""destination.postgres's config: modes, merge keys, and how an invalid one fails a run."""

from __future__ import annotations

import pytest

from airflow_provider_logidata.engine import runner
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig


def test_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="mode 'merge' needs keys"):
        PostgresDestinationConfig.model_validate({"conn_id": "c", "table": "t", "mode": "merge"})
    with pytest.raises(ValidationError, match="keys apply to mode 'merge' only"):
        PostgresDestinationConfig.model_validate({"conn_id": "c", "table": "t", "keys": ["id"]})
    with pytest.raises(ValidationError, match="keys lists 'id' more than once"):
        PostgresDestinationConfig.model_validate(
            {"conn_id": "c", "table": "t", "mode": "merge", "keys": ["id", "id"]}
        )
    with pytest.raises(
        LogiDataTaskError,
        match=r"(?s)destination.postgres node 'w': invalid config: .*mode 'merge' needs keys",
    ):
        runner.run_destination(
            {"conn_id": "c", "table": "t", "mode": "merge"}, "w", [], module="destination.postgres"
        )
    config = PostgresDestinationConfig.model_validate({"conn_id": "c", "table": "t"})
    assert config.model_dump(mode="json") == {
        "conn_id": "c",
        "table": "t",
        "schema": "public",
        "mode": "append",
        "keys": None,
        "on_schema_change": "evolve",
        "create_table": True,
    }
