"""What a suggestion is: a finding (evidence, confidence, columns), the nodes that fix it and their effect."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

Severity = Literal["low", "medium", "high"]
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass
class ProposedNode:
    """A node to insert after the selected one: the selected node's output feeds ``input_port`` (None:
    the module's only input); ``extra_inputs`` maps the module's other ports to existing node ids (a
    join's ``right``)."""

    module: str
    config: dict[str, Any]
    label: str
    input_port: str | None = None
    extra_inputs: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "config": self.config,
            "label": self.label,
            "input_port": self.input_port,
            "extra_inputs": dict(self.extra_inputs),
        }


@dataclass
class Effect:
    rows_before: int
    rows_after: int
    cells_changed: int
    summary: str
    columns_before: list[str] = field(default_factory=list)
    columns_after: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "cells_changed": self.cells_changed,
            "summary": self.summary,
            "columns_before": list(self.columns_before),
            "columns_after": list(self.columns_after),
            "examples": list(self.examples),
        }


@dataclass
class Suggestion:
    """One ranked proposal. ``id`` is stable for the same rule, columns and values (used for Dismiss)."""

    id: str
    rule: str
    title: str
    evidence: str
    confidence: float
    confidence_reason: str
    severity: Severity
    columns: list[str]
    nodes: list[ProposedNode]
    effect: Effect | None = None
    # How much of the sample the defect touches (0..1): ranks suggestions of equal severity/confidence.
    share: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "evidence": self.evidence,
            "confidence": round(self.confidence, 3),
            "confidence_reason": self.confidence_reason,
            "severity": self.severity,
            "columns": list(self.columns),
            "nodes": [node.as_dict() for node in self.nodes],
            "effect": self.effect.as_dict() if self.effect else None,
        }

    def rank_key(self) -> tuple[int, float, float]:
        return (SEVERITY_RANK[self.severity], round(self.confidence, 3), self.share)


def suggestion_id(rule: str, columns: list[str] | tuple[str, ...] = (), *values: object) -> str:
    """``rule:col1,col2`` plus a short hash of the values that make the finding distinct (a mapping)."""
    text = f"{rule}:{','.join(columns)}" if columns else rule
    if values:
        digest = hashlib.sha256(repr(values).encode("utf-8")).hexdigest()[:10]
        text += f":{digest}"
    return text


@dataclass
class PipelineContext:
    """What rules may know about the pipeline around the selected node.

    ``node_module``/``node_config``: the selected node itself (a rule whose fix is already this node stays
    quiet). ``other_sources``: samples of source nodes not upstream of the selected node (join
    candidates), by node id. ``downstream_keys``: key columns of destinations fed by the node (through
    row-preserving steps), by destination node id. ``guarded_keys``: key columns already checked by a
    quality_check between the node and those destinations. ``engine``: ``etl`` or ``elt`` (which SQL
    functions the proposed expressions may use).
    """

    node_id: str = "node"
    node_module: str | None = None
    node_config: dict[str, Any] = field(default_factory=dict)
    node_labels: dict[str, str] = field(default_factory=dict)
    other_sources: dict[str, pa.Table] = field(default_factory=dict)
    downstream_keys: dict[str, list[str]] = field(default_factory=dict)
    guarded_keys: set[str] = field(default_factory=set)
    engine: str = "etl"
