"""source.postgres's config: table or one read-only SELECT, columns, incremental options."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"table": "t", "query": "SELECT 1"}, "set exactly one of table or query"),
        ({}, "set exactly one of table or query"),
        ({"query": "SELECT 1; SELECT 2"}, "exactly one SELECT statement, found 2"),
        ({"query": "DROP TABLE t"}, "query must be a SELECT, not DROP"),
        ({"query": "UPDATE t SET a = 1"}, "query must be a SELECT, not UPDATE"),
        ({"query": "SELECT * INTO t2 FROM t"}, "must not use SELECT ... INTO"),
        ({"query": "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"}, "must only read"),
        ({"query": "SELEC 1"}, "not valid PostgreSQL SQL: line 1"),
        ({"query": "SELECT 1", "schema": "s"}, "schema and columns apply to table only"),
        ({"table": "t", "columns": ["a", "a"]}, "columns lists 'a' more than once"),
        (
            {"table": "t", "incremental": {"column": "a", "mode": "data_interval", "initial_value": 1}},
            "initial_value applies to mode 'cursor' only",
        ),
        ({"table": "t", "schema_name": "s"}, "Extra inputs are not permitted"),
    ],
)
def test_config_validation(config: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        PostgresSourceConfig.model_validate({"conn_id": "c", **config})


def test_config_keeps_schema_key_and_skips_templates() -> None:
    config = PostgresSourceConfig.model_validate({"conn_id": "c", "table": "t", "schema": "s"})
    assert config.model_dump(mode="json")["schema"] == "s"
    # Jinja is rendered before the query is parsed (at run time).
    templated = PostgresSourceConfig.model_validate(
        {"conn_id": "c", "query": "SELECT * FROM t WHERE d = {{ ds }}"}
    )
    assert templated.query is not None
