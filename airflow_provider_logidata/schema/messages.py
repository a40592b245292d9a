"""Issues in a data engineer's words: which node (its label), which field (its form label), what.

The JSON path stays available as a detail (``at nodes[5].config.condition``) for whoever edits the file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_logidata.spec.errors import SpecIssue

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def node_text(data: Any, node_id: str | None) -> str | None:
    """``'Drop test orders' (filter_rows drop_tests)``, or the id when the node has no label."""
    if node_id is None:
        return None
    nodes = data.get("nodes") if isinstance(data, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and node.get("id") == node_id:
            label, module = node.get("label"), node.get("module")
            kind = f"{module} " if isinstance(module, str) else ""
            if isinstance(label, str) and label.strip() and label != node_id:
                return f"{label.strip()!r} ({kind}{node_id})"
            return f"{kind}{node_id!r}".strip()
    return repr(node_id)


def field_text(module: str | None, field: str | None) -> str | None:
    """The form's label of a config field path: ``checks[1].column`` -> ``Checks #2 > Column``."""
    if not field:
        return None
    schema: dict[str, Any] | None = None
    if module:
        from airflow_provider_logidata.modules.registry import registry
        from airflow_provider_logidata.schema.fields import config_schema

        definition = registry().get(module)
        if definition is not None:
            schema = config_schema(definition)
    parts: list[str] = []
    current = schema
    defs = schema.get("$defs", {}) if schema else {}
    for name, index in _PART.findall(field):
        if index:
            if parts:
                parts[-1] += f" #{int(index) + 1}"
            current = _items(current, defs)
            continue
        prop = _property(current, name, defs)
        title = prop.get("title") if prop else None
        parts.append(str(title) if title else name.replace("_", " ").capitalize())
        current = prop
    return " > ".join(parts)


def _deref(node: dict[str, Any] | None, defs: dict[str, Any]) -> dict[str, Any] | None:
    from airflow_provider_logidata.schema.fields import resolve

    return None if node is None else resolve(node, defs)


def _property(node: dict[str, Any] | None, name: str, defs: dict[str, Any]) -> dict[str, Any] | None:
    node = _deref(node, defs)
    if node is None:
        return None
    if name in node.get("properties", {}):
        prop: dict[str, Any] = node["properties"][name]
        return prop
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        found = _property(branch, name, defs)
        if found is not None:
            return found
    return None


def _items(node: dict[str, Any] | None, defs: dict[str, Any]) -> dict[str, Any] | None:
    node = _deref(node, defs)
    if node is None:
        return None
    if "items" in node:
        items: dict[str, Any] = node["items"]
        return items
    for branch in node.get("anyOf", []):
        found = _items(branch, defs)
        if found is not None:
            return found
    return None


def describe(issue: SpecIssue, data: Any) -> str:
    """One line for a person, then the JSON path as a detail."""
    module = None
    nodes = data.get("nodes") if isinstance(data, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and node.get("id") == issue.node_id:
            module = node.get("module") if isinstance(node.get("module"), str) else None
    where = [part for part in (node_text(data, issue.node_id), field_text(module, issue.field)) if part]
    if issue.field is None and issue.path:
        # Not a config field: the pipeline's own key (``schedule``) or a node's (``nodes[0].module``).
        tail = re.sub(r"^nodes\[\d+\]\.?", "", issue.path) if issue.node_id else issue.path
        if tail and tail != "engine":
            where.append(tail)
    text = issue.message
    if issue.found is not None and issue.found not in text:
        text += f" (found {issue.found})"
    if issue.allowed is not None and not issue.message.startswith("column "):
        text += f"; allowed: {issue.allowed}"
    prefix = "warning: " if issue.severity == "warning" else ""
    head = f"{prefix}{' > '.join(where)}: {text}" if where else f"{prefix}{text}"
    return f"{head}\n    at {issue.path}" if issue.path else head
