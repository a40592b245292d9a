"""Which config fields name input columns, read from the config's JSON Schema.

The marker is the one the builder's forms use for column pickers (``x-logidata-widget: column``), so a
field that gets a picker is exactly a field that is checked; output names (``new-column``) are neither.
A field may name the columns of one input only (``x-logidata-port: left``, a join's ``left_on``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.modules.registry import ModuleDef

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "array": (list,),
    "object": (dict,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@dataclass(frozen=True)
class WidgetField:
    path: tuple[str | int, ...]
    value: str
    port: str | None  # the input it is about; None: every input
    widget: str


def widget_fields(schema: dict[str, Any], data: Any, widgets: frozenset[str]) -> Iterator[WidgetField]:
    """Every text in ``data`` (a config as JSON, by alias) whose schema carries one of ``widgets``."""
    yield from _walk(schema, data, (), None, schema.get("$defs", {}), widgets)


_SCHEMAS: dict[str, dict[str, Any]] = {}


def config_schema(definition: ModuleDef) -> dict[str, Any]:
    """A module's config JSON Schema by alias (what the forms and these walkers read), built once."""
    schema = _SCHEMAS.get(definition.name)
    if schema is None:
        schema = _SCHEMAS[definition.name] = definition.config_model.model_json_schema(by_alias=True)
    return schema


def column_fields(schema: dict[str, Any], data: Any) -> Iterator[WidgetField]:
    """Every input column name written in a config."""
    yield from widget_fields(schema, data, COLUMN)


COLUMN = frozenset({"column"})
SQL = frozenset({"sql", "sql-expression"})


def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _matches(node: dict[str, Any], value: Any, defs: dict[str, Any]) -> bool:
    node = resolve(node, defs)
    kind = node.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        wrong_type = not isinstance(value, _TYPES[kind])
        if wrong_type or (kind in ("integer", "number") and isinstance(value, bool)):
            return False
    if isinstance(value, dict):
        for key, prop in node.get("properties", {}).items():
            prop = resolve(prop, defs)
            if "const" in prop and value.get(key) != prop["const"]:
                return False
    return True


def _walk(
    node: dict[str, Any],
    value: Any,
    path: tuple[str | int, ...],
    port: str | None,
    defs: dict[str, Any],
    widgets: frozenset[str],
) -> Iterator[WidgetField]:
    node = resolve(node, defs)
    port = node.get("x-logidata-port", port)
    for key in ("anyOf", "oneOf"):
        if key in node:
            for branch in node[key]:
                if _matches(branch, value, defs):
                    yield from _walk(branch, value, path, port, defs, widgets)
                    break
            return
    widget = node.get("x-logidata-widget")
    if widget in widgets and isinstance(value, str):
        yield WidgetField(path, value, port, widget)
        return
    if isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            yield from _walk(node["items"], item, (*path, index), port, defs, widgets)
    elif isinstance(value, dict) and "properties" in node:
        for key, item in value.items():
            if key in node["properties"]:
                yield from _walk(node["properties"][key], item, (*path, key), port, defs, widgets)


def find_column(name: str, available: list[str]) -> str | None:
    """The column ``name`` refers to: exact, else the one equal ignoring case (DuckDB's rule)."""
    if name in available:
        return name
    folded = [c for c in available if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def closest(name: str, available: list[str], limit: int = 3) -> list[str]:
    """Names a user probably meant: spelling neighbours, compared ignoring case."""
    lowered = {c.lower(): c for c in available}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    if not found:
        found = [c for c in lowered if name.lower() in c or c in name.lower()][:limit]
    return [lowered[c] for c in found]


def unknown_column_message(name: str, available: list[str], where: str = "the input") -> str:
    near = closest(name, available)
    if near:
        hint = f"did you mean {' or '.join(repr(n) for n in near)}?"
    else:
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        hint = f"{where} has {len(available)} column(s): {shown}"
    return f"column {name!r} does not exist in {where}; {hint}"
