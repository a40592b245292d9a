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
# of its values is free text (names, comments), where case carries meaning, or codes (see _code_case).
CATEGORY_MAX_RATIO = 0.5
# Codes (tail numbers, SKUs, postcodes): many distinct values, each a single word of at most CODE_LENGTH
# characters written in one case (N14228, n14228; not Smith). CODE_SHARE of the values must be single
# words and at most MIXED_SHARE of the cased ones mix cases within the value.
MIN_CODES = 20
CODE_LENGTH = 40
CODE_SHARE = 0.95
MIXED_SHARE = 0.05
# Case variants of codes: at least TWIN_SHARE of the minority-case distinct values also appear in the
# majority case (n14228 beside N14228), or the majority case holds OVERWHELMING of the cased values
# (the sample is too small for twins to meet, but 2 codes in 100 in lower case are not a convention).
TWIN_SHARE = 0.2
OVERWHELMING = 0.95


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
        if non_null < 2:
            continue
        if sample.distinct(name) > CATEGORY_MAX_RATIO * non_null:
            code = _code_case(sample, name)
            if code is not None:
                yield code
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
            nodes=[_case_node(name, case)],
            share=affected / max(1, sample.rows),
        )


def _case_node(name: str, case: str) -> ProposedNode:
    """The step writing a column in one letter case (categories and codes alike)."""
    return ProposedNode(
        module="clean_text",
        config={"columns": [name], "trim": True, "collapse_spaces": True, "case": case},
        label=f"{case.title()} case {name}",
    )


def _code_case(sample: SampleContext, name: str) -> Suggestion | None:
    """Case variants in a high-cardinality code column, which the category test above leaves out.

    Each value is classed by its letters: all upper, all lower, mixed (Smith: letters in both cases) or
    none (digits only). A code column has single-word values, almost none mixed; the majority case is the
    one to write, and the evidence is twins (the same code in both cases) or an overwhelming majority.
    Free text has spaces; names and titles are mixed within the value; both stay quiet.
    """
    column = quote_ident(name)
    space = quote_literal(WHITESPACE)
    styled = (
        f"WITH d AS (SELECT v, count(*) AS n, CASE WHEN upper(v) = lower(v) THEN 'none' "
        "WHEN v = upper(v) THEN 'upper' WHEN v = lower(v) THEN 'lower' ELSE 'mixed' END AS style, "
        f"length(v) <= {CODE_LENGTH} AND NOT regexp_matches(v, {space}) AS word "
        f"FROM (SELECT {normalised(name)} AS v FROM {SAMPLE} WHERE {column} IS NOT NULL) "
        "WHERE v <> '' GROUP BY v) "
    )
    # Per style: values, single-word values, distinct values, distinct values whose twin in the other
    # case (upper for a lower-case value, lower for an upper-case one) is in the column too.
    twin_of_lower = "upper(v) IN (SELECT v FROM d WHERE style = 'upper')"
    twin_of_upper = "lower(v) IN (SELECT v FROM d WHERE style = 'lower')"
    stats = {
        str(style): (int(n), int(single), int(distinct), int(paired))
        for style, n, single, distinct, paired in sample.query(
            styled + "SELECT style, sum(n), coalesce(sum(n) FILTER (WHERE word), 0), count(*), "
            f"count(*) FILTER (WHERE (style = 'lower' AND {twin_of_lower}) "
            f"OR (style = 'upper' AND {twin_of_upper})) "
            "FROM d GROUP BY style"
        )
    }
    values = sum(n for n, _, _, _ in stats.values())
    words = sum(w for _, w, _, _ in stats.values())
    upper, lower, mixed = (stats.get(style, (0, 0, 0, 0))[0] for style in ("upper", "lower", "mixed"))
    if values < MIN_CODES or words < CODE_SHARE * values:
        return None
    cased = upper + lower + mixed
    if not cased or mixed > MIXED_SHARE * cased:
        return None
    case, other = ("upper", "lower") if upper >= lower else ("lower", "upper")
    written = stats[case][0]
    affected, _, minority, twins = stats.get(other, (0, 0, 0, 0))
    if not affected:
        return None
    twin_share = twins / minority
    fit = written / (upper + lower)
    if twin_share < TWIN_SHARE and fit < OVERWHELMING:
        return None
    convert = f"{case}(v)"
    twin_test = f" AND {convert} IN (SELECT v FROM d WHERE style = '{case}')" if twins else ""
    shown = sample.query(
        styled + f"SELECT v, {convert} FROM d WHERE style = '{other}'{twin_test} ORDER BY n DESC, v LIMIT 3"
    )
    examples = ", ".join(f"{v!r} / {to!r}" if twins else repr(v) for v, to in shown)
    evidence = (
        f"{count(affected)} of {count(values)} values of {name} ({pct(affected, values)}) are {other} case "
        f"while {pct(written, values)} are {case} case; "
        + (
            f"{count(twins)} of the {count(minority)} distinct {other}-case values also appear in "
            f"{case} case (e.g. {examples})"
            if twins
            else f"e.g. {examples}"
        )
        + f"; {name} holds codes ({count(sample.distinct(name))} distinct single-word values, each written "
        "in one case)"
    )
    return Suggestion(
        id=suggestion_id("inconsistent_case", [name]),
        rule="inconsistent_case",
        title=f"Write {name} in {case} case",
        evidence=evidence,
        confidence=clamp(0.45 + 0.45 * max(min(1.0, twin_share / 0.5), (fit - 0.5) * 2)),
        confidence_reason=f"a code written in two cases names one thing but neither joins nor groups with "
        f"itself; {case} case is the majority ({fit:.0%} of the values with letters)"
        + (f" and {twin_share:.0%} of the {other}-case codes have a {case}-case twin" if twins else ""),
        severity="medium" if affected / max(1, sample.rows) >= 0.01 else "low",
        columns=[name],
        nodes=[_case_node(name, case)],
        share=affected / max(1, sample.rows),
    )
