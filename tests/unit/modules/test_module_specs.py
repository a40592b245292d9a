"""Modules in the spec: metadata and field descriptions for forms, JSON Schema, port checks."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from airflow_provider_logidata.modules.registry import builtin_registry
from airflow_provider_logidata.spec import validate_pipeline
from airflow_provider_logidata.spec.schema import SCHEMA_PATH, pipeline_json_schema

COLUMN_FIELDS = {
    "on",
    "left_on",
    "right_on",
    "group_by",
    "column",
    "name",
    "target_column",
    "as",
}


def _widgets(prop: dict[str, Any]) -> set[str]:
    text = json.dumps(prop)
    return {w for w in ("column", "new-column") if f'"x-logidata-widget": "{w}"' in text}


# Transforms with several inputs or outputs, or steps beyond cleaning (the second batch of modules).
NAMES = {
    "join",
    "aggregate",
    "sort",
    "union",
    "derive_column",
    "map_values",
    "sql",
    "python",
    "route",
    "quality_check",
}


NEW_COLUMN_FIELDS = {
    ("DerivedColumn", "name"),
    ("ColumnSelection", "rename"),
    ("Aggregation", "as"),
    ("MapValuesConfig", "target_column"),
}


def test_every_module_and_field_is_described() -> None:
    modules = [module for module in builtin_registry() if module.name in NAMES]
    assert {m.name for m in modules} == NAMES
    schema = pipeline_json_schema()
    defs = schema["$defs"]
    checked = 0
    for module in modules:
        assert module.label and module.description and module.icon, module.name
        assert module.category == "transform"
        model_schema = defs[module.config_model.__name__]
        assert model_schema["x-logidata-module"]["name"] == module.name
        pending = [module.config_model.__name__]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for field, prop in defs[name].get("properties", {}).items():
                assert prop.get("description"), f"{name}.{field} has no description"
                checked += 1
                if (name, field) in NEW_COLUMN_FIELDS:
                    # A name the node creates: free text, not checked against the input.
                    assert _widgets(prop) == {"new-column"}, f"{name}.{field} is not marked as a new column"
                elif field in COLUMN_FIELDS and not (name.endswith("Check") and field == "name"):
                    assert _widgets(prop) == {"column"}, f"{name}.{field} is not marked as a column"
                pending.extend(ref.rsplit("/", 1)[-1] for ref in _refs(prop))
    assert checked > 40


def _refs(prop: Any) -> list[str]:
    if isinstance(prop, dict):
        refs = [prop["$ref"]] if "$ref" in prop else []
        for value in prop.values():
            refs.extend(_refs(value))
        return refs
    if isinstance(prop, list):
        return [ref for item in prop for ref in _refs(item)]
    return []


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def pipeline(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    sources = [
        {"id": "a", "module": "source.file", "config": {"path": "/a.csv"}},
        {"id": "b", "module": "source.file", "config": {"path": "/b.csv"}},
    ]
    return {"id": "module_spec", "nodes": sources + nodes, "edges": edges}


GOOD = pipeline(
    [
        {"id": "j", "module": "join", "config": {"on": ["id"], "how": "full"}},
        {"id": "agg", "module": "aggregate", "config": {"aggregations": [{"function": "count", "as": "n"}]}},
        {"id": "u", "module": "union", "config": {"distinct": True}},
        {"id": "r", "module": "route", "config": {"condition": "n > 1"}},
        {
            "id": "qc",
            "module": "quality_check",
            "config": {"checks": [{"type": "regex", "column": "x", "pattern": "[a-z]+"}], "action": "warn"},
        },
        {"id": "q", "module": "sql", "config": {"query": "SELECT * FROM r__unmatched"}},
        {"id": "w", "module": "destination.file", "config": {"path": "/o.parquet"}},
    ],
    [
        {"source": "a", "target": "j", "target_port": "left"},
        {"source": "b", "target": "j", "target_port": "right"},
        {"source": "j", "target": "agg"},
        {"source": "a", "target": "u"},
        {"source": "b", "target": "u"},
        {"source": "agg", "target": "r"},
        {"source": "u", "target": "qc"},
        {"source": "r", "source_port": "unmatched", "target": "q"},
        {"source": "qc", "source_port": "rejected", "target": "q"},
        {"source": "q", "target": "w"},
    ],
)


def test_multi_port_pipeline_valid_for_validator_and_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    result = validate_pipeline(GOOD)
    assert result.ok, [str(issue) for issue in result.issues]
    validator.validate(GOOD)


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda p: p["edges"][0].pop("target_port"),
            "edges[0].target_port",
            "needs the input named on each edge",
        ),
        (lambda p: p["edges"][4].update(target_port="left"), "edges[4].target_port", "takes unnamed inputs"),
        (lambda p: p["edges"].pop(4), "nodes[4]", "takes at least 2 input(s)"),
        (
            lambda p: p["edges"][7].update(source_port="maybe"),
            "edges[7].source_port",
            "has no output 'maybe'",
        ),
        (
            lambda p: p["nodes"][6]["config"]["checks"][0].update(type="regexp"),
            "nodes[6].config.checks[0]",
            "does not match any of the expected tags",
        ),
        (
            lambda p: p["nodes"][3]["config"]["aggregations"][0].update(oops=1),
            "nodes[3].config.aggregations[0].oops",
            "unknown field 'oops'",
        ),
    ],
)
def test_multi_port_spec_errors(change: Any, path: str, message: str) -> None:
    data = json.loads(json.dumps(GOOD))
    change(data)
    issues = validate_pipeline(data).issues
    assert any(issue.path == path and message in issue.message for issue in issues), [str(i) for i in issues]


def test_traits_of_the_built_in_modules() -> None:
    # The engine, the preview and the design-time checks read these traits instead of lists of names.
    def having(trait: str) -> set[str]:
        return {m.name for m in builtin_registry() if getattr(m, trait)}

    assert having("keeps_rows") == {
        "select_columns",
        "fill_nulls",
        "clean_text",
        "parse_dates",
        "sort",
        "derive_column",
        "map_values",
    }
    assert having("blocking") == {"deduplicate", "aggregate", "sort"}
    assert having("self_materialised") == {"python"}
    assert having("subset_rows") == {"filter_rows", "deduplicate", "route", "quality_check"}
    assert having("row_wise") == having("keeps_rows") | having("subset_rows")
    assert having("multi") == {"join", "union", "sql", "route", "quality_check"}
    assert having("changes_column") == {
        "select_columns",
        "derive_column",
        "map_values",
        "parse_dates",
        "clean_text",
        "fill_nulls",
        "aggregate",
    }
