"""Messy column names (spaces, capitals, punctuation, camelCase) → snake_case renames (``select_columns``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_provider_logidata.suggest.cluster import strip_accents
from airflow_provider_logidata.suggest.model import Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import keep_columns_node

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(name: str) -> str:
    text = _CAMEL.sub("_", strip_accents(name.strip()))
    text = _NON_WORD.sub("_", text.lower()).strip("_")
    if not text:
        return "column"
    return f"c_{text}" if text[0].isdigit() else text


def snake_names(names: list[str]) -> dict[str, str]:
    """old -> new for every name that changes; clashes get _2, _3 (names compared ignoring case)."""
    taken = {n.lower() for n in names if snake_case(n) == n}
    out: dict[str, str] = {}
    for name in names:
        new = snake_case(name)
        if new == name:
            continue
        candidate, suffix = new, 2
        while candidate.lower() in taken:
            candidate, suffix = f"{new}_{suffix}", suffix + 1
        taken.add(candidate.lower())
        out[name] = candidate
    return out


@register_rule("messy_names", "Column names that are not snake_case")
def messy_names(sample: SampleContext) -> Iterator[Suggestion]:
    names = [n for n, _ in sample.columns]
    renames = snake_names(names)
    if not renames:
        return
    shown = ", ".join(f"{old!r} → {new!r}" for old, new in list(renames.items())[:4])
    node = keep_columns_node(names, label="snake_case column names", renames=renames)
    node.config["keep_other_columns"] = True
    yield Suggestion(
        id=suggestion_id("messy_names", sorted(renames)),
        rule="messy_names",
        title=f"Rename {len(renames)} column(s) to snake_case",
        evidence=f"{len(renames)} of {len(names)} column names hold spaces, capitals or punctuation: {shown}"
        + (" …" if len(renames) > 4 else ""),
        confidence=0.6,
        confidence_reason="snake_case names need no quoting in SQL and survive every database; a naming "
        "convention, not an error",
        severity="low",
        columns=sorted(renames),
        nodes=[node],
        share=len(renames) / len(names),
    )
