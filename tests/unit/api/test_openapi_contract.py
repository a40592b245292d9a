"""The published OpenAPI document promises exactly what the API answers (issue 10).

The schemathesis run (tests/security/test_api_schemathesis.py) checks real answers against the
document; these are the document's own rules: the id rules behind the 400s, every error status with the
error shape, date-times as RFC 3339, stored documents not promised to be valid pipelines.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_logidata.api.app import openapi_document
from airflow_provider_logidata.api.models import RunBrief, StoredPipeline, Version
from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store.layout import MAX_ID_LENGTH


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in document["paths"].items() for m, op in item.items()]


def test_pipeline_id_parameters_publish_the_store_rule(document: dict[str, Any]) -> None:
    found = 0
    for method, path, op in _operations(document):
        for param in op.get("parameters", []):
            if param["name"] == "pipeline_id":
                found += 1
                schema = param["schema"]
                assert schema["pattern"] == PIPELINE_ID_PATTERN, (method, path)
                assert (schema["minLength"], schema["maxLength"]) == (1, MAX_ID_LENGTH), (method, path)
                assert "400" in op["responses"], (method, path)
    assert found >= 13


def test_every_error_status_has_the_error_shape(document: dict[str, Any]) -> None:
    for method, path, op in _operations(document):
        codes = set(op["responses"])
        assert {"401", "403", "500"} <= codes, (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= codes, (method, path)
        for code, response in op["responses"].items():
            if code[0] in "45":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref in ("#/components/schemas/Error", "#/components/schemas/Conflict"), (
                    method,
                    path,
                    code,
                )
    assert "409" in document["paths"]["/pipelines/{pipeline_id}"]["put"]["responses"]
    assert {"429", "504"} <= set(document["paths"]["/preview"]["post"]["responses"])


def test_answers_type_stored_documents_loosely_and_requests_as_spec(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    stored = schemas["StoredPipeline"]["properties"]["pipeline"]
    assert stored.get("$ref", "").endswith("/PipelineDocument") or any(
        s.get("$ref", "").endswith("/PipelineDocument") for s in stored.get("allOf", [])
    )
    assert schemas["PipelineDocument"]["additionalProperties"] is True
    assert set(schemas["PipelineDocument"]["required"]) == {"spec_version", "id", "nodes", "edges"}
    assert schemas["SaveBody"]["properties"]["pipeline"] == {"$ref": "#/components/schemas/Spec"}
    assert "Spec" not in str(schemas["Conflict"]["properties"]["yours"])
    start = schemas["Spec"]["properties"]["start_date"]["anyOf"]
    assert {"type": "string", "format": "date"} in start  # the examples' "2024-01-01" is valid


def test_time_fields_are_date_times(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model, field in [
        ("StoredPipeline", "saved_at"),
        ("PipelineSummary", "saved_at"),
        ("Version", "saved_at"),
        ("RunBrief", "start_date"),
        ("Run", "end_date"),
    ]:
        options = schemas[model]["properties"][field]["anyOf"]
        assert {"type": "string", "format": "date-time"} in options, (model, field)


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (dt.datetime(2024, 5, 1, 12, 0, 0), "2024-05-01T12:00:00Z"),  # naive: UTC, as Airflow stores
        (
            dt.datetime(2024, 5, 1, 14, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-01T12:00:00Z",
        ),
        (dt.datetime(2024, 5, 1, 12, 0, 0, 5, tzinfo=dt.timezone.utc), "2024-05-01T12:00:00.000005Z"),
    ],
)
def test_answers_send_rfc3339_utc(value: dt.datetime, sent: str) -> None:
    run = RunBrief(run_id="r", state=None, start_date=value, end_date=None)
    assert run.model_dump(mode="json")["start_date"] == sent
    version = Version(version=1, etag="e", saved_at=value, author=None, status="draft")
    assert version.model_dump(mode="json")["saved_at"] == sent
    stored = StoredPipeline(pipeline={"id": "x"}, etag="e", version=1, saved_at=value, errors=[])
    assert stored.model_dump(mode="json")["saved_at"] == sent
