"""Exact duplicate rows, and rows sharing a key value → ``deduplicate``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, pct, quote_ident
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext


@register_rule("exact_duplicates", "Rows identical in every column")
def exact_duplicates(sample: SampleContext) -> Iterator[Suggestion]:
    if sample.rows < 2 or not sample.columns:
        return
    distinct = int(sample.value(f"SELECT count(*) FROM (SELECT DISTINCT * FROM {SAMPLE})"))
    extra = sample.rows - distinct
    if extra <= 0:
        return
    share = extra / sample.rows
    has_key = sample.key_column() is not None
    confidence = 0.95 if has_key else 0.8
    yield Suggestion(
        id=suggestion_id("exact_duplicates"),
        rule="exact_duplicates",
        title=f"Remove {count(extra)} exact duplicate rows",
        evidence=f"{count(extra)} of {count(sample.rows)} sampled rows ({pct(extra, sample.rows)}) are exact "
        "copies of another row",
        confidence=confidence,
        confidence_reason="rows equal in every column"
        + (
            " although the data has a key column: almost always a double load"
            if has_key
            else "; without a key column they may be legitimate repeated events"
        ),
        severity="high" if share >= 0.01 else "medium",
        columns=[],
        nodes=[ProposedNode(module="deduplicate", config={}, label="Remove duplicate rows")],
        share=share,
    )


@register_rule("key_duplicates", "Rows sharing a key value but differing elsewhere")
def key_duplicates(sample: SampleContext) -> Iterator[Suggestion]:
    key = sample.key_column()
    if key is None:
        return
    column = quote_ident(key)
    row = sample.query(
        f"SELECT count({column}) - count(DISTINCT {column}) FROM (SELECT DISTINCT * FROM {SAMPLE})"
    )[0]
    extra = int(row[0])
    if extra <= 0:
        return
    worst = sample.query(
        f"SELECT CAST({column} AS VARCHAR), count(*) FROM (SELECT DISTINCT * FROM {SAMPLE}) "
        f"WHERE {column} IS NOT NULL GROUP BY {column} HAVING count(*) > 1 ORDER BY count(*) DESC, 1 LIMIT 3"
    )
    ratio = sample.distinct(key) / max(1, sample.non_null(key))
    confidence = clamp(0.45 + 0.45 * ratio + (0.05 if key.lower() == "id" else 0.0))
    share = extra / max(1, sample.rows)
    shown = ", ".join(f"{value!r} x{n}" for value, n in worst)
    yield Suggestion(
        id=suggestion_id("key_duplicates", [key]),
        rule="key_duplicates",
        title=f"Keep one row per {key} ({count(extra)} repeated keys)",
        evidence=f"{count(extra)} rows repeat a {key} value of an earlier row with different other values "
        f"(e.g. {shown}); {pct(sample.distinct(key), sample.non_null(key))} of the {key} values are distinct",
        confidence=confidence,
        confidence_reason=f"{key!r} looks like a key (name, {ratio:.0%} distinct values); "
        "the first row per key "
        "is kept — check that it is the right one",
        severity="high" if share >= 0.01 else "medium",
        columns=[key],
        nodes=[
            ProposedNode(
                module="deduplicate", config={"columns": [key], "keep": "first"}, label=f"One row per {key}"
            )
        ],
        share=share,
    )
