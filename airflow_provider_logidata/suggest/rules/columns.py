"""Empty, constant and mostly-empty columns → drop them (``select_columns`` without them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.sql import is_text
from airflow_provider_logidata.suggest.model import Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import count, keep_columns_node, pct, quote_ident
from airflow_provider_logidata.suggest.rules.nulls import DROP_SHARE
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

CONSTANT_MIN_ROWS = 50  # fewer rows say little about a column being constant


def _blank(sample: SampleContext, name: str) -> bool:
    """No value, or (text) only empty or white-space values."""
    if not sample.non_null(name):
        return True
    if not is_text(sample.type_of(name)):
        return False
    column = quote_ident(name)
    # Not trim(): DuckDB's trim strips spaces only, so a tab or newline would count as a value.
    return not sample.value(f"SELECT count(*) FROM {SAMPLE} WHERE regexp_matches({column}, '\\S')")


def _drop(sample: SampleContext, drop: list[str], label: str):  # type: ignore[no-untyped-def]
    keep = [n for n, _ in sample.columns if n not in drop]
    return keep_columns_node(keep, label=label) if keep else None


@register_rule("empty_columns", "Columns without any value")
def empty_columns(sample: SampleContext) -> Iterator[Suggestion]:
    if not sample.rows:
        return
    empty = [n for n, _ in sample.columns if _blank(sample, n)]
    node = _drop(sample, empty, "Drop empty columns") if empty else None
    if node is None:
        return
    yield Suggestion(
        id=suggestion_id("empty_columns", empty),
        rule="empty_columns",
        title=f"Drop {len(empty)} empty column(s): {', '.join(empty)}",
        evidence=f"{', '.join(empty)}: no value in any of the {count(sample.rows)} sampled rows",
        confidence=0.9 if sample.rows >= CONSTANT_MIN_ROWS else 0.6,
        confidence_reason=f"empty in all {count(sample.rows)} sampled rows (the full data may differ)",
        severity="low",
        columns=empty,
        nodes=[node],
        share=len(empty) / max(1, len(sample.columns)),
    )


@register_rule("constant_columns", "Columns holding one value in every row")
def constant_columns(sample: SampleContext) -> Iterator[Suggestion]:
    if sample.rows < CONSTANT_MIN_ROWS:
        return
    constant = [
        n
        for n, _ in sample.columns
        if sample.distinct(n) == 1 and sample.nulls(n) == 0 and not _blank(sample, n)
    ]
    node = _drop(sample, constant, "Drop constant columns") if constant else None
    if node is None:
        return
    values = [
        sample.value(f"SELECT CAST(any_value({quote_ident(n)}) AS VARCHAR) FROM {SAMPLE}") for n in constant
    ]
    yield Suggestion(
        id=suggestion_id("constant_columns", constant),
        rule="constant_columns",
        title=f"Drop {len(constant)} constant column(s): {', '.join(constant)}",
        evidence="; ".join(
            f"{n} is {v!r} in all {count(sample.rows)} sampled rows"
            for n, v in zip(constant, values, strict=True)
        ),
        confidence=0.6,
        confidence_reason="one value across the whole sample carries no information, but the full data or a "
        "later load may vary",
        severity="low",
        columns=constant,
        nodes=[node],
        share=len(constant) / max(1, len(sample.columns)),
    )


@register_rule("mostly_null", "Columns missing in most rows")
def mostly_null(sample: SampleContext) -> Iterator[Suggestion]:
    for name, _ in sample.columns:
        missing = sample.nulls(name)
        if not sample.non_null(name) or missing <= DROP_SHARE * sample.rows or _blank(sample, name):
            continue
        node = _drop(sample, [name], f"Drop {name}")
        if node is None:
            continue
        yield Suggestion(
            id=suggestion_id("mostly_null", [name]),
            rule="mostly_null",
            title=f"Drop mostly empty column {name}",
            evidence=f"{count(missing)} of {count(sample.rows)} sampled rows ({pct(missing, sample.rows)}) "
            f"have no {name}",
            confidence=0.5,
            confidence_reason="too sparse to fill credibly; keep it if the present values matter",
            severity="low",
            columns=[name],
            nodes=[node],
            share=missing / sample.rows,
        )
