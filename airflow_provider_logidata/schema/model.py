"""What schema propagation answers: per node and port the output columns, or why they are not known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# known: columns computed; unknown: cannot be told without running (a python node, a source not read);
# error: the node itself is wrong (its issues say why), so nothing downstream can be checked either.
Status = Literal["known", "unknown", "error"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's type name, as the run's engine binds it

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class ColumnOrigin:
    """One upstream column an output column is computed from (column-level lineage)."""

    node_id: str
    port: str
    column: str
    kind: str = "direct"  # direct: the value flows from it; indirect: it filters, groups or orders

    def to_dict(self) -> dict[str, str]:
        return {"node_id": self.node_id, "port": self.port, "column": self.column, "kind": self.kind}


@dataclass
class NodeSchema:
    node_id: str
    status: Status
    ports: dict[str, list[Column]] = field(default_factory=dict)
    reason: str | None = None  # why unknown or error, in plain words
    # port -> output column -> upstream columns it comes from (empty: a constant or not analysable)
    lineage: dict[str, dict[str, list[ColumnOrigin]]] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)  # port -> the DuckDB SELECT bound (transforms)

    def columns(self, port: str = "out") -> list[Column] | None:
        if self.status != "known":
            return None
        return self.ports.get(port)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "status": self.status,
            "reason": self.reason,
            "ports": {port: [c.to_dict() for c in cols] for port, cols in self.ports.items()},
            "lineage": {
                port: {name: [o.to_dict() for o in origins] for name, origins in columns.items()}
                for port, columns in self.lineage.items()
            },
        }


@dataclass(frozen=True)
class SchemaIssue:
    """A design-time problem of one node, in plain words, with the config field at fault."""

    node_id: str
    message: str
    field: str | None = None  # config field path, e.g. ``condition`` or ``checks[0].column``
    severity: Severity = "error"
    found: str | None = None
    allowed: str | None = None


def fields_path(parts: tuple[str | int, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
