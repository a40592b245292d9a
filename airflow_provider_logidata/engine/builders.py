"""Where the engine finds a module's builders and chain traits: its ``ModuleDef`` in the registry.

One lookup per role, so a chain, a multi-output node, a preview and a suggestion agree on what a module
can do, and a pack's module is found exactly like a built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.registry import registry

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Step:
    """A one-in-one-out transform as a chain runs it."""

    name: str
    build: Callable[..., str]
    keeps_rows: bool
    blocking: bool
    self_materialised: bool
    rescans: Callable[[Any], bool]


def _never(config: Any) -> bool:
    return False


def step(name: str) -> Step | None:
    """The chain step of ``name``; ``None`` unless a one-in-one-out transform with a DuckDB builder."""
    definition = registry().get(name)
    if definition is None or definition.category != "transform" or definition.multi:
        return None
    if definition.duckdb is None:
        return None
    return Step(
        name=name,
        build=definition.duckdb,
        keeps_rows=definition.keeps_rows,
        blocking=definition.blocking,
        self_materialised=definition.self_materialised,
        rescans=definition.rescans or _never,
    )


def step_names() -> list[str]:
    return sorted(d.name for d in registry() if step(d.name) is not None)


def multi(name: str) -> Callable[..., dict[str, str]] | None:
    """The builder of a module with several inputs or outputs: ``build(ctx, inputs) -> {port: SELECT}``."""
    definition = registry().get(name)
    if definition is None or definition.category != "transform" or not definition.multi:
        return None
    return definition.duckdb


def multi_names() -> list[str]:
    return sorted(d.name for d in registry() if multi(d.name) is not None)


def source(name: str) -> Callable[..., Any] | None:
    definition = registry().get(name)
    if definition is None or definition.category != "source":
        return None
    return definition.duckdb


def destination(name: str) -> Callable[..., Any] | None:
    definition = registry().get(name)
    if definition is None or definition.category != "destination":
        return None
    return definition.duckdb


def names(category: str) -> list[str]:
    return sorted(d.name for d in registry() if d.category == category)


def elt(name: str) -> Callable[..., str] | None:
    """The ELT builder of a one-in-one-out transform: ``build(elt_ctx, relation, columns)``."""
    definition = registry().get(name)
    if definition is None or definition.category != "transform" or definition.multi:
        return None
    return definition.elt
