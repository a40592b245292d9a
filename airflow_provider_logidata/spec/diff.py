"""What changed between two versions of a pipeline, ignoring where nodes sit on the canvas.

A reviewer asks "what will run differently?": a node added, removed or reconfigured, an edge rewired, a
schedule changed. Dragging a node around changes nothing that runs, so positions are left out; so is the
order of nodes and edges in the file. Nodes are matched by id (a renamed id is a removal and an addition,
as it is for Airflow: the task_id changes). Missing top-level settings compare as their defaults, so a
document written before a setting existed does not show a change it never had.

One implementation for the builder's history view (API), the CLI (``logidata diff``) and anything else
that shows a diff: all of them read :func:`diff_documents` and :func:`diff_text`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["pipeline", "node", "edge"]
Action = Literal["added", "removed", "changed"]

# Where a node sits and how the canvas is zoomed: not part of what runs.
_IGNORED_NODE_KEYS = frozenset({"position"})
_IGNORED_PIPELINE_KEYS = frozenset({"nodes", "edges", "ui"})
_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One meaningful difference. ``field`` is a dotted path inside the node or pipeline (``config.sep``)."""

    kind: Kind
    action: Action
    node: str | None = None
    field: str | None = None
    before: Any = None
    after: Any = None
    edge: dict[str, str | None] | None = None
    module: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "action": self.action,
            "node": self.node,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "edge": self.edge,
            "module": self.module,
            "text": self.text(),
        }

    def text(self) -> str:
        """One line a reviewer reads: ``~ node clean: config.condition: 'a > 1' → 'a > 2'``."""
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.action]
        if self.kind == "edge" and self.edge is not None:
            return f"{sign} edge {_edge_text(self.edge)}"
        if self.kind == "node" and self.field is None:
            return f"{sign} node {self.node} ({self.module})"
        subject = f"node {self.node}: {self.field}" if self.kind == "node" else f"pipeline {self.field}"
        if self.action == "added":
            return f"{sign} {subject} = {_value(self.after)}"
        if self.action == "removed":
            return f"{sign} {subject} (was {_value(self.before)})"
        return f"{sign} {subject}: {_value(self.before)} → {_value(self.after)}"


@dataclass(frozen=True)
class PipelineDiff:
    changes: list[Change] = field(default_factory=list)

    def _whole_nodes(self, action: Action) -> list[str]:
        return [
            c.node
            for c in self.changes
            if c.kind == "node" and c.field is None and c.action == action and c.node
        ]

    @property
    def nodes_added(self) -> list[str]:
        return self._whole_nodes("added")

    @property
    def nodes_removed(self) -> list[str]:
        return self._whole_nodes("removed")

    @property
    def nodes_changed(self) -> list[str]:
        """Nodes on both sides with at least one field added, removed or changed."""
        seen: dict[str, None] = {}
        for c in self.changes:
            if c.kind == "node" and c.field is not None and c.node:
                seen.setdefault(c.node)
        return list(seen)


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> PipelineDiff:
    """The changes from ``before`` to ``after`` (two pipeline documents, stored or not yet valid)."""
    changes = [
        *_pipeline_changes(before, after),
        *_node_changes(before, after),
        *_edge_changes(before, after),
    ]
    return PipelineDiff(changes)


def diff_text(diff: PipelineDiff) -> str:
    """The diff as text, one change per line; "no changes" when only the canvas moved."""
    if not diff.changes:
        return "no changes (positions on the canvas are not compared)"
    return "\n".join(change.text() for change in diff.changes)


# ---------------------------------------------------------------- parts


def _pipeline_defaults() -> dict[str, Any]:
    from airflow_provider_logidata.spec.models import Pipeline  # pydantic: only when a diff is asked

    return {
        name: info.get_default(call_default_factory=True)
        for name, info in Pipeline.model_fields.items()
        if not info.is_required()
    }


def _pipeline_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    defaults = _pipeline_defaults()
    keys = [k for k in dict.fromkeys([*before, *after]) if k not in _IGNORED_PIPELINE_KEYS]
    changes: list[Change] = []
    for key in keys:
        old = before.get(key, defaults.get(key, _MISSING))
        new = after.get(key, defaults.get(key, _MISSING))
        changes.extend(_value_changes("pipeline", None, None, key, old, new))
    return changes


def _nodes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = document.get("nodes")
    out: dict[str, dict[str, Any]] = {}
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            out.setdefault(node["id"], node)
    return out


def _node_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old_nodes, new_nodes = _nodes(before), _nodes(after)
    changes: list[Change] = []
    for node_id in old_nodes:
        if node_id not in new_nodes:
            module = old_nodes[node_id].get("module")
            changes.append(Change("node", "removed", node=node_id, module=_text_or_none(module)))
    for node_id, node in new_nodes.items():
        module = _text_or_none(node.get("module"))
        old = old_nodes.get(node_id)
        if old is None:
            changes.append(Change("node", "added", node=node_id, module=module))
            continue
        keys = [k for k in dict.fromkeys([*old, *node]) if k not in _IGNORED_NODE_KEYS and k != "id"]
        for key in keys:
            changes.extend(
                _value_changes("node", node_id, module, key, old.get(key, _MISSING), node.get(key, _MISSING))
            )
    return changes


def _value_changes(
    kind: Kind, node: str | None, module: str | None, path: str, old: Any, new: Any
) -> list[Change]:
    """Field-level changes; dicts are walked so a config change names the field, lists compare whole."""
    if _same(old, new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in dict.fromkeys([*old, *new]):
            out.extend(
                _value_changes(
                    kind, node, module, f"{path}.{key}", old.get(key, _MISSING), new.get(key, _MISSING)
                )
            )
        return out
    if old is _MISSING:
        return [Change(kind, "added", node=node, module=module, field=path, after=new)]
    if new is _MISSING:
        return [Change(kind, "removed", node=node, module=module, field=path, before=old)]
    return [Change(kind, "changed", node=node, module=module, field=path, before=old, after=new)]


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str, str] | None:
    source, target = edge.get("source"), edge.get("target")
    if not isinstance(source, str) or not isinstance(target, str):
        return None
    source_port = edge.get("source_port") or "out"
    target_port = edge.get("target_port") or ""
    return (source, str(source_port), target, str(target_port))


def _edges(document: dict[str, Any]) -> dict[tuple[str, str, str, str], dict[str, str | None]]:
    edges = document.get("edges")
    out: dict[tuple[str, str, str, str], dict[str, str | None]] = {}
    for edge in edges if isinstance(edges, list) else []:
        key = _edge_key(edge) if isinstance(edge, dict) else None
        if key is not None:
            out.setdefault(
                key,
                {"source": key[0], "source_port": key[1], "target": key[2], "target_port": key[3] or None},
            )
    return out


def _edge_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old_edges, new_edges = _edges(before), _edges(after)
    removed = [
        Change("edge", "removed", edge=edge) for key, edge in old_edges.items() if key not in new_edges
    ]
    added = [Change("edge", "added", edge=edge) for key, edge in new_edges.items() if key not in old_edges]
    return [*removed, *added]


# ---------------------------------------------------------------- text


def _same(old: Any, new: Any) -> bool:
    if old is _MISSING or new is _MISSING:
        return old is new
    # 1 and 1.0 and True differ in a pipeline (types matter to the engine): compare the JSON spelling.
    return _canonical(old) == _canonical(new)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _value(value: Any) -> str:
    text = _canonical(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _edge_text(edge: dict[str, str | None]) -> str:
    source = (
        edge["source"]
        if edge.get("source_port") in (None, "out")
        else f"{edge['source']}.{edge['source_port']}"
    )
    target = edge["target"] if not edge.get("target_port") else f"{edge['target']}.{edge['target_port']}"
    return f"{source} → {target}"
