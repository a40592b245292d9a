"""source.http_api's module: config validation, registry entry, operator weight, pipeline schema."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.modules.sources.http_api import HttpApiSourceConfig


def test_registered_with_a_connection_widget() -> None:
    module = registry()["source.http_api"]
    assert module.category == "source" and module.min_inputs == module.max_inputs == 0
    assert module.operator_class().__name__ == "HttpApiSourceOperator"
    conn = module.config_model.model_json_schema()["properties"]["conn_id"]
    assert conn["x-logidata-widget"] == "connection" and conn["x-logidata-conn-type"] == "http"


def test_unknown_pagination_type_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError) as info:
        HttpApiSourceConfig.model_validate({"conn_id": "c", "pagination": {"type": "pages"}})
    text = str(info.value)
    for name in ("'none'", "'page'", "'offset'", "'cursor'", "'link_header'"):
        assert name in text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"headers": {"Authorization": "Bearer x"}}, "look like credentials"),
        ({"headers": {"X-API-Key": "x"}}, "look like credentials"),
        ({"endpoint": "https://evil.example/x"}, "endpoint must be a path"),
        ({"body": {"a": 1}}, "body is sent only with method POST"),
        (
            {"params": {"page": 2}, "pagination": {"type": "page"}},
            "params sets page, which pagination controls",
        ),
        ({"pagination": {"type": "page", "size": 10}}, "set both size_param and size"),
        ({"pagination": {"type": "cursor", "cursor_path": "meta..next"}}, "String should match pattern"),
        ({"pagination": {"type": "page", "extra": 1}}, "Extra inputs are not permitted"),
        ({"retry": {"max_attempts": 0}}, "greater than or equal to 1"),
    ],
)
def test_config_validation(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpApiSourceConfig.model_validate({"conn_id": "c", **config})


def test_operator_module_stays_light() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_logidata.operators.http_api\n"
        "heavy = [m for m in ('requests', 'airflow.providers.http.hooks.http', 'pyarrow', 'duckdb',\n"
        "         'airflow_provider_logidata.engine.http_api') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "pagination",
    [
        {"type": "none"},
        {"type": "page", "param": "p", "start": 0, "size_param": "n", "size": 50},
        {"type": "offset"},
        {"type": "cursor", "cursor_path": "paging.next"},
        {"type": "link_header"},
    ],
    ids=lambda p: p["type"],
)
def test_pipeline_with_http_api_valid_for_validator_and_json_schema(pagination: dict[str, Any]) -> None:
    import jsonschema

    from airflow_provider_logidata.spec import validate_pipeline
    from airflow_provider_logidata.spec.schema import SCHEMA_PATH

    spec = {
        "id": "api_pipeline",
        "nodes": [
            {
                "id": "fetch",
                "module": "source.http_api",
                "config": {"conn_id": "crm", "endpoint": "/v1/orders", "pagination": pagination},
            },
            {"id": "write", "module": "destination.file", "config": {"path": "/tmp/orders.parquet"}},
        ],
        "edges": [{"source": "fetch", "target": "write"}],
    }
    assert validate_pipeline(spec).ok
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    validator.validate(spec)
    spec["nodes"][0]["config"]["pagination"] = {**pagination, "type": "pages"}
    assert list(validator.iter_errors(spec))
    (issue,) = validate_pipeline(spec).issues
    assert issue.path == "nodes[0].config.pagination"
    assert "'none', 'page', 'offset', 'cursor', 'link_header'" in issue.message
