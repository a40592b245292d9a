"""Padded text and inconsistent letter case → ``clean_text`` (the same expressions the engine runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.sql import quote_literal
from airflow_provider_logidata.modules.transforms.clean_text import (
    COLLAPSE,
    WHITESPACE,
    CleanTextConfig,
    clean_text_expression,
)
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, pct, quote_ident
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

PADDED = f"^{WHITESPACE}|{WHITESPACE}$|{COLLAPSE}"
# Only categories are expected to be spelt one way: a column with more distinct values than this share
# of its values is free text (names, comments), where case carries meaning.
CATEGORY_MAX_RATIO = 0.5


def normalised(column: str) -> str:
    """The value trimmed with white space collapsed (what clean_text does before changing case)."""
    return clean_text_expression(column, CleanTextConfig(case="keep"))


@register_rule("padded_text", "Text with leading, trailing or repeated white space")
def padded_text(sample: SampleContext) -> Iterator[Suggestion]:
    columns = sample.text_columns()
    if not columns or not sample.rows:
        return
    pattern = quote_literal(PADDED)
    parts = ", ".join(f"count(*) FILTER (WHERE regexp_matches({quote_ident(c)}, {pattern}))" for c in columns)
    found = sample.query(f"SELECT {parts} FROM {SAMPLE}")[0]
    padded = {c: int(n) for c, n in zip(columns, found, strict=True) if n}
    if not padded:
        return
    total = sum(padded.values())
    worst = max(padded, key=lambda c: padded[c])
    example = sample.value(
        f"SELECT {quote_ident(worst)} FROM {SAMPLE} "
        f"WHERE regexp_matches({quote_ident(worst)}, {pattern}) LIMIT 1"
    )
    names = list(padded)
    detail = "; ".join(f"{c}: {count(n)} of {count(sample.non_null(c))}" for c, n in padded.items())
    yield Suggestion(
        id=suggestion_id("padded_text", names),
        rule="padded_text",
        title=f"Trim white space in {', '.join(names)}",
        evidence=f"{count(total)} text values have leading, trailing or repeated spaces ({detail}); "
        f"e.g. {example!r}",
        confidence=0.9,
        confidence_reason="surrounding or doubled white space is almost never meant and breaks equality, "
        "joins and grouping",
        severity="medium" if total / max(1, sample.rows) >= 0.01 else "low",
        columns=names,
        nodes=[
            ProposedNode(
                module="clean_text",
                config={"columns": names, "trim": True, "collapse_spaces": True},
                label="Trim white space",
            )
        ],
        share=total / max(1, sample.rows * len(names)),
    )


def _case_styles(column: str) -> dict[str, str]:
    base = normalised(column)
    return {
        case: f"({clean_text_expression(column, CleanTextConfig(case=case))}) = {base}"  # type: ignore[arg-type]
        for case in ("title", "lower", "upper")
    }


@register_rule("inconsistent_case", "One value written in several letter cases")
def inconsistent_case(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.text_columns():
        non_null = sample.non_null(name)
        if non_null < 2 or sample.distinct(name) > CATEGORY_MAX_RATIO * non_null:
            continue
        column = quote_ident(name)
        norm = normalised(name)
        groups = sample.query(
            f"SELECT lower(n), count(DISTINCT n), count(*), list(DISTINCT n ORDER BY n) FROM "
            f"(SELECT {norm} AS n FROM {SAMPLE} WHERE {column} IS NOT NULL) "
            "GROUP BY lower(n) HAVING count(DISTINCT n) > 1 ORDER BY count(*) DESC"
        )
        if not groups:
            continue
        # Rows not in their group's most frequent spelling.
        affected = int(
            sample.value(
                f"SELECT coalesce(sum(total - top), 0) FROM (SELECT lower(n) AS k, count(*) AS total, "
                f"max(c) AS top FROM (SELECT n, count(*) OVER (PARTITION BY n) AS c FROM "
                f"(SELECT {norm} AS n FROM {SAMPLE} WHERE {column} IS NOT NULL)) GROUP BY k "
                "HAVING count(DISTINCT n) > 1)"
            )
        )
        styles = _case_styles(name)
        shares = sample.query(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {cond})" for cond in styles.values())
            + f" FROM {SAMPLE} WHERE {column} IS NOT NULL"
        )[0]
        by_style = dict(zip(styles, (int(s) for s in shares), strict=True))
        case = max(by_style, key=lambda s: by_style[s])
        fit = by_style[case] / non_null
        example = groups[0][3][:3]
        yield Suggestion(
            id=suggestion_id("inconsistent_case", [name]),
            rule="inconsistent_case",
            title=f"Write {name} in {case} case",
            evidence=f"{len(groups)} value(s) of {name} appear in several letter cases (e.g. "
            f"{', '.join(map(repr, example))}); {count(affected)} of {count(non_null)} rows "
            "differ from their "
            f"most frequent spelling; {pct(by_style[case], non_null)} of the values are already {case} case",
            confidence=clamp(0.45 + 0.45 * fit),
            confidence_reason=f"{name!r} holds categories ({count(sample.distinct(name))} distinct values) "
            "and "
            f"{case} case is the most common form ({fit:.0%})",
            severity="medium" if affected / max(1, sample.rows) >= 0.01 else "low",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="clean_text",
                    config={"columns": [name], "trim": True, "collapse_spaces": True, "case": case},
                    label=f"{case.title()} case {name}",
                )
            ],
            share=affected / max(1, sample.rows),
        )
