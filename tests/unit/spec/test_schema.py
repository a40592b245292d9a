"""The committed JSON Schema must match the models, and accept what the validator accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest

from airflow_provider_logidata.examples import EXAMPLES_DIR, example_files
from airflow_provider_logidata.spec import validate_pipeline
from airflow_provider_logidata.spec.schema import SCHEMA_PATH, schema_text


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "the committed JSON Schema is stale: run `python -m airflow_provider_logidata.spec.schema`"
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_examples_valid_for_both(path: object, validator: jsonschema.Draft202012Validator) -> None:
    data = json.loads((EXAMPLES_DIR / path.name).read_text())  # type: ignore[attr-defined]
    assert validate_pipeline(data).ok
    validator.validate(data)


def test_schema_checks_module_config(validator: jsonschema.Draft202012Validator) -> None:
    data = json.loads(example_files()[0].read_text())
    data["nodes"][1]["config"]["keep"] = "middle"
    errors = list(validator.iter_errors(data))
    assert errors
    assert not validate_pipeline(data).ok
