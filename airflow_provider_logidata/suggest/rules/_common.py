"""Small helpers shared by the rules: numbers in evidence, confidence bounds, node builders."""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.engine.sql import quote_ident
from airflow_provider_logidata.suggest.model import ProposedNode

__all__ = ["clamp", "count", "examples_text", "keep_columns_node", "pct", "quote_ident"]


def count(n: int) -> str:
    return f"{n:,}"


def pct(part: float, whole: float) -> str:
    if not whole:
        return "0%"
    share = 100.0 * part / whole
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


def clamp(value: float, low: float = 0.05, high: float = 0.99) -> float:
    return max(low, min(high, value))


def examples_text(values: list[Any], limit: int = 3) -> str:
    return ", ".join(repr(v) for v in values[:limit])


def keep_columns_node(
    columns: list[str],
    *,
    label: str,
    casts: dict[str, str] | None = None,
    renames: dict[str, str] | None = None,
) -> ProposedNode:
    """select_columns listing every column in its place (so order is kept), with casts or renames."""
    entries: list[dict[str, Any]] = []
    for name in columns:
        entry: dict[str, Any] = {"name": name}
        if casts and name in casts:
            entry["cast"] = casts[name]
        if renames and name in renames:
            entry["rename"] = renames[name]
        entries.append(entry)
    return ProposedNode(
        module="select_columns", config={"columns": entries, "keep_other_columns": False}, label=label
    )
