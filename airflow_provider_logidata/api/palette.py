"""The module palette: every registered module with its config JSON Schema and UI widget hints.

Config models declare hints where the type is defined (``ColumnName`` carries ``x-logidata-widget:
column``; connection fields carry ``x-logidata-widget: connection`` and ``x-logidata-conn-type``). This
module normalises them into the shape the form generator reads, so every future module gets pickers
without UI changes:

- a field that is (optionally) a column gets ``"x-logidata-widget": "column"`` on the field itself,
- a field that is (optionally) a list of columns gets ``"x-logidata-widget": "columns"``,
- a connection field also gets ``"x-logidata-conn-types": [...]`` (a list, for fields taking several).
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.api.models import Module

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry

WIDGET = "x-logidata-widget"
CONN_TYPE = "x-logidata-conn-type"
CONN_TYPES = "x-logidata-conn-types"


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema itself and its ``anyOf``/``oneOf`` alternatives (``X | None`` fields)."""
    found = [schema]
    for key in ("anyOf", "oneOf"):
        found.extend(b for b in schema.get(key, []) if isinstance(b, dict))
    return found


def _field_widget(field: dict[str, Any]) -> str | None:
    for branch in _branches(field):
        if branch.get(WIDGET) == "column":
            return "column"
        items = branch.get("items")
        if branch.get("type") != "array" or not isinstance(items, dict):
            continue
        if any(b.get(WIDGET) == "column" for b in _branches(items)):
            return "columns"
    return None


def _annotate_field(field: dict[str, Any]) -> None:
    if WIDGET not in field:
        widget = _field_widget(field)
        if widget is not None:
            field[WIDGET] = widget
    for branch in _branches(field):
        if branch.get(WIDGET) == "connection" and CONN_TYPES not in field:
            conn_type = branch.get(CONN_TYPE)
            field[WIDGET] = "connection"
            if isinstance(conn_type, str):
                field[CONN_TYPES] = [conn_type]
            elif isinstance(conn_type, list):
                field[CONN_TYPES] = [str(t) for t in conn_type]


def annotate_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with widget hints lifted onto the fields (nested models in $defs included)."""
    out = copy.deepcopy(schema)
    objects = [out, *[d for d in out.get("$defs", {}).values() if isinstance(d, dict)]]
    for obj in objects:
        for field in (obj.get("properties") or {}).values():
            if isinstance(field, dict):
                _annotate_field(field)
                items = field.get("items")
                # A list of nested objects inline (rare: pydantic uses $defs) or of $ref: nothing to do.
                if isinstance(items, dict) and "properties" in items:
                    objects.append(items)
    return out


def _docs(module: ModuleDef, schema: dict[str, Any]) -> str:
    """Markdown help for the config drawer: what the module does, then each option."""
    lines = [module.description]
    doc = inspect.getdoc(module.config_model)
    if (
        doc
        and doc.strip() != module.description.strip()
        and doc != inspect.getdoc(module.config_model.__mro__[1])
    ):
        lines += ["", doc]
    props = schema.get("properties") or {}
    if props:
        required = set(schema.get("required") or [])
        lines += ["", "**Options**", ""]
        for name, field in props.items():
            text = field.get("description", "") if isinstance(field, dict) else ""
            mark = " (required)" if name in required else ""
            lines.append(f"- `{name}`{mark}: {text}".rstrip(": ").rstrip())
    return "\n".join(lines)


def module_out(module: ModuleDef) -> Module:
    schema = annotate_schema(module.config_model.model_json_schema())
    return Module(
        name=module.name,
        category=module.category,
        label=module.label,
        description=module.description,
        icon=module.icon,
        min_inputs=module.min_inputs,
        max_inputs=module.max_inputs,
        input_ports=list(module.input_ports),
        outputs=list(module.outputs),
        config_schema=schema,
        docs=_docs(module, schema),
        pack=module.pack,
    )


def palette(registry: ModuleRegistry | None = None) -> list[Module]:
    if registry is None:
        return list(_default_palette())
    return [module_out(module) for module in registry]


@functools.cache
def _default_palette() -> tuple[Module, ...]:
    """Built once per process: the built-in registry does not change while the api-server runs."""
    from airflow_provider_logidata.modules.registry import registry

    return tuple(module_out(module) for module in registry())
