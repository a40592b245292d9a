"""The OpenAPI document the UI's TypeScript types are generated from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from airflow_provider_logidata.api.app import openapi_document

REPO = Path(__file__).resolve().parents[3]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in document["paths"].items() for m, op in item.items()]


def test_every_operation_is_documented() -> None:
    document = openapi_document()
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    for method, path, op in _operations(document):
        codes = set(op["responses"])
        assert {"401", "403"} <= codes, (method, path)
        success = [c for c in codes if c.startswith("2")]
        assert success, (method, path)
        if success != ["204"]:
            content = op["responses"][success[0]].get("content", {})
            assert content["application/json"]["schema"], (method, path)
    schemas = document["components"]["schemas"]
    assert {"Spec", "SpecNode", "SpecEdge", "StoredPipeline", "Conflict", "Error", "Run"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    assert "x-logidata-spec" not in str(document)
    assert document["servers"] == [{"url": "/logidata/api"}]


def test_committed_export_is_current() -> None:
    """ui/openapi.json feeds the UI's type generator: regenerate with scripts/export-openapi.py."""
    spec = importlib.util.spec_from_file_location("export_openapi", REPO / "scripts" / "export-openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "ui/openapi.json is stale: run scripts/export-openapi.py"
