"""Module palette: config schemas with the widget hints the UI's form generator reads."""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.api.palette import annotate_schema, palette


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fields = dict(schema.get("properties", {}))
    for name, sub in schema.get("$defs", {}).items():
        for field, value in sub.get("properties", {}).items():
            fields[f"{name}.{field}"] = value
    return fields


def test_hints_are_lifted_onto_fields() -> None:
    schema = {
        "properties": {
            "one": {"anyOf": [{"type": "string", "x-logidata-widget": "column"}, {"type": "null"}]},
            "many": {"type": "array", "items": {"type": "string", "x-logidata-widget": "column"}},
            "maybe_many": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string", "x-logidata-widget": "column"}},
                    {"type": "null"},
                ]
            },
            "conn": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "x-logidata-widget": "connection",
                "x-logidata-conn-type": "postgres",
            },
            "plain": {"type": "string"},
        },
        "$defs": {"Nested": {"properties": {"col": {"type": "string", "x-logidata-widget": "column"}}}},
    }
    out = annotate_schema(schema)
    fields = _fields(out)
    assert fields["one"]["x-logidata-widget"] == "column"
    assert fields["many"]["x-logidata-widget"] == "columns"
    assert fields["maybe_many"]["x-logidata-widget"] == "columns"
    assert fields["conn"]["x-logidata-conn-types"] == ["postgres"]
    assert "x-logidata-widget" not in fields["plain"]
    assert fields["Nested.col"]["x-logidata-widget"] == "column"
    assert "x-logidata-widget" not in schema["properties"]["many"]  # the input is not changed


def test_every_builtin_module_is_in_the_palette_with_pickers() -> None:
    from airflow_provider_logidata.modules.registry import registry

    modules = {m.name: m for m in palette()}
    assert set(modules) == set(registry().names())
    for module in modules.values():
        for name, field in _fields(module.config_schema).items():
            text = str(field)
            if "'x-logidata-widget': 'column'" in text and field.get("x-logidata-widget") not in (
                "column",
                "columns",
            ):
                raise AssertionError(f"{module.name}.{name}: column hint not lifted: {field}")
            if field.get("x-logidata-widget") == "connection":
                assert field["x-logidata-conn-types"], f"{module.name}.{name}"
    pg = modules["source.postgres"].config_schema["properties"]
    assert pg["conn_id"]["x-logidata-conn-types"] == ["postgres"]
    assert modules["deduplicate"].config_schema["properties"]["columns"]["x-logidata-widget"] == "columns"
    assert modules["join"].input_ports == ["left", "right"]
    assert modules["route"].outputs == ["matched", "unmatched"]
    assert "**Options**" in modules["filter_rows"].docs
