"""Numbers and dates stored as text → ``select_columns`` cast / ``parse_dates`` with the detected format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.sql import quote_literal
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import (
    clamp,
    count,
    examples_text,
    keep_columns_node,
    pct,
    quote_ident,
)
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

MIN_SHARE = 0.9  # of the non-empty values must convert
MIN_VALUES = 5
# Tried in this order; on a tie the earlier wins (ISO first, then day-first, as most of Europe writes).
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    # ISO 8601 with a zone: "Z" (UTC, matched literally: %z does not read it) or an offset (+01:00).
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d %b %Y",
    "%b %d, %Y",
)


def _trimmed(column: str) -> str:
    return f"nullif(trim({column}), '')"


@register_rule("numbers_as_text", "Numbers or booleans stored as text")
def numbers_as_text(sample: SampleContext) -> Iterator[Suggestion]:
    names = sample.text_columns()
    if not names:
        return
    parts = []
    for name in names:
        c = quote_ident(name)
        parts.append(
            f"count({_trimmed(c)}), "
            # DuckDB rounds '43.57' to 44 when casting to BIGINT: integers are recognised by their form.
            f"count(*) FILTER (WHERE regexp_full_match(trim({c}), '[+-]?[0-9]+')), "
            f"count(TRY_CAST({c} AS DOUBLE)), "
            f"count(*) FILTER (WHERE regexp_matches(trim({c}), '^[+-]?0[0-9]')), "
            f"count(DISTINCT CASE WHEN TRY_CAST({c} AS DOUBLE) IS NOT NULL "
            f"THEN length(regexp_extract(trim({c}), '\\.([0-9]*)$', 1)) END), "
            f"max(length(regexp_extract(trim({c}), '\\.([0-9]*)$', 1))), "
            f"count(TRY_CAST({c} AS BOOLEAN)) FILTER (WHERE NOT regexp_matches(trim({c}), '^[0-9]+$'))"
        )
    row = sample.query(f"SELECT {', '.join(parts)} FROM {SAMPLE}")[0]
    for index, name in enumerate(names):
        values, ints, numbers, zeros, decimal_shapes, decimals, booleans = row[7 * index : 7 * index + 7]
        if values < MIN_VALUES or zeros:
            continue
        if numbers >= MIN_SHARE * values:
            converted = int(numbers)
            if ints == numbers:
                cast = "integer"
            elif decimal_shapes == 1 and (decimals or 0) <= 4:
                cast = "decimal"  # one fixed number of decimals: amounts, keep them exact
            else:
                cast = "float"
        elif booleans >= MIN_SHARE * values:
            converted, cast = int(booleans), "boolean"
        else:
            continue
        failing = int(values) - converted
        suggestion = _cast(sample, name, cast, int(values), failing)
        if suggestion is not None:
            yield suggestion


def _failing_examples(sample: SampleContext, name: str, test: str) -> list[str]:
    c = quote_ident(name)
    rows = sample.query(
        f"SELECT DISTINCT {c} FROM {SAMPLE} WHERE {_trimmed(c)} IS NOT NULL AND {test} LIMIT 3"
    )
    return [str(r[0]) for r in rows]


def _cast(sample: SampleContext, name: str, cast: str, values: int, failing: int) -> Suggestion | None:
    c = quote_ident(name)
    target = {"integer": "BIGINT", "decimal": "DECIMAL(38,9)", "float": "DOUBLE", "boolean": "BOOLEAN"}[cast]
    bad = _failing_examples(sample, name, f"TRY_CAST({c} AS {target}) IS NULL") if failing else []
    node = keep_columns_node([n for n, _ in sample.columns], label=f"{name} as {cast}", casts={name: cast})
    node.config["on_error"] = "null" if failing else "fail"
    node.config["keep_other_columns"] = True
    share = (values - failing) / values
    evidence = (
        f"{count(values - failing)} of {count(values)} values of {name} ({pct(values - failing, values)}) "
        f"are {cast} numbers stored as text"
        if cast != "boolean"
        else f"{count(values - failing)} of {count(values)} values of {name} are true/false stored as text"
    )
    if failing:
        evidence += f"; {count(failing)} are not (e.g. {examples_text(bad)}) and would become null"
    return Suggestion(
        id=suggestion_id("numbers_as_text", [name]),
        rule="numbers_as_text",
        title=f"Convert {name} to {cast}",
        evidence=evidence,
        confidence=clamp(0.5 + 0.45 * share if not failing else 0.4 + 0.4 * share),
        confidence_reason=f"{share:.0%} of the values convert; text numbers sort and sum wrongly"
        + (", and the rest would be lost" if failing else ""),
        severity="medium",
        columns=[name],
        nodes=[node],
        share=share,
    )


# A cheap first look: three date-like parts ("31/01/2024", "2024-01-31T10:00"), or a month name.
DATE_SHAPE = (
    r"^[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T].*)?$|^[0-9]{1,2} [A-Za-z]{3,9} [0-9]{4}$|"
    r"^[A-Za-z]{3,9} [0-9]{1,2}, [0-9]{4}$"
)


@register_rule("dates_as_text", "Dates or timestamps stored as text")
def dates_as_text(sample: SampleContext) -> Iterator[Suggestion]:
    names = sample.text_columns()
    if not names:
        return
    shape = quote_literal(DATE_SHAPE)
    parts = [
        f"count({_trimmed(c)}), count(*) FILTER (WHERE regexp_matches(trim({c}), {shape}))"
        for c in map(quote_ident, names)
    ]
    looks = sample.query(f"SELECT {', '.join(parts)} FROM {SAMPLE}")[0]
    for index, name in enumerate(names):
        values, shaped = int(looks[2 * index]), int(looks[2 * index + 1])
        if values < MIN_VALUES or shaped < MIN_SHARE * values:
            continue
        c = quote_ident(name)
        # Parse each distinct value once per format (a date column holds few distinct values).
        flags = ", ".join(f"try_strptime(v, {quote_literal(fmt)}) IS NOT NULL" for fmt in DATE_FORMATS)
        distinct = sample.query(
            f"SELECT v, n, {flags} FROM (SELECT trim({c}) AS v, count(*) AS n FROM {SAMPLE} "
            f"WHERE {_trimmed(c)} IS NOT NULL GROUP BY 1) ORDER BY n DESC, v"
        )
        hits = [sum(int(row[1]) for row in distinct if row[2 + i]) for i in range(len(DATE_FORMATS))]
        chosen: list[int] = []
        covered = 0
        left = distinct
        for _ in range(3):  # mixed formats: the best one, then whatever it leaves, at most three
            counts = [sum(int(row[1]) for row in left if row[2 + i]) for i in range(len(DATE_FORMATS))]
            best = max(range(len(DATE_FORMATS)), key=lambda i: (counts[i], -i))
            if counts[best] == 0 or (chosen and counts[best] < max(1, 0.01 * values)):
                break
            chosen.append(best)
            covered += counts[best]
            left = [row for row in left if not row[2 + best]]
        if covered < MIN_SHARE * values:
            continue
        formats = [DATE_FORMATS[i] for i in chosen]
        failing = values - covered
        timestamp = any("%H" in f for f in formats)
        target = "timestamp" if timestamp else "date"
        ambiguous = [f for f in formats if f in ("%d/%m/%Y", "%m/%d/%Y")]
        alternative = {"%d/%m/%Y": "%m/%d/%Y", "%m/%d/%Y": "%d/%m/%Y"}
        tie = any(hits[DATE_FORMATS.index(alternative[f])] == hits[DATE_FORMATS.index(f)] for f in ambiguous)
        bad = [str(row[0]) for row in left[:3]]
        evidence = (
            f"{count(covered)} of {count(values)} values of {name} ({pct(covered, values)}) are {target}s "
            f"written as text in format {', '.join(formats)}"
        )
        if failing:
            evidence += (
                f"; {count(failing)} match no format (e.g. {examples_text(bad)}) and would become null"
            )
        zone = _zone_note(sample, distinct, chosen)
        evidence += zone
        share = covered / values
        confidence = 0.45 + 0.45 * share - (0.25 if tie else 0.0) - (0.1 if failing else 0.0)
        yield Suggestion(
            id=suggestion_id("dates_as_text", [name]),
            rule="dates_as_text",
            title=f"Parse {name} as {target}" + (" in UTC" if zone else ""),
            evidence=evidence,
            confidence=clamp(confidence),
            confidence_reason=f"{share:.0%} of the values match"
            + (
                "; day and month cannot be told apart in this sample (no day above 12), check the format"
                if tie
                else ""
            )
            + ("; the written zone is applied, so each value keeps its instant (in UTC)" if zone else ""),
            severity="medium",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="parse_dates",
                    config={
                        "columns": [name],
                        "formats": formats,
                        "target": target,
                        "on_error": "null" if failing else "fail",
                    },
                    label=f"Parse {name}",
                )
            ],
            share=share,
        )


def _zone_note(sample: SampleContext, distinct: list[tuple[Any, ...]], chosen: list[int]) -> str:
    """What becomes of a written time zone, for the evidence ("" when no chosen format reads one).

    parse_dates targets a date or a timestamp without zone: a value with an offset is read as the instant
    it names and stored as that instant in UTC (the engine's session time zone), which must be said, as
    the stored clock time differs from the written one.
    """
    offsets = [i for i in chosen if DATE_FORMATS[i].endswith("%z")]
    utc = [i for i in chosen if DATE_FORMATS[i].endswith("Z")]
    if not offsets and not utc:
        return ""
    naive = len(offsets) + len(utc) < len(chosen)
    rest = "; values written without a zone are kept as written" if naive else ""
    if not offsets:
        return f"; they end in Z (UTC) and are read as UTC timestamps{rest}"
    # Show a value whose offset moves the clock, when there is one.
    rows = [row for row in distinct if any(row[2 + i] for i in offsets)]
    moved = [row for row in rows if not str(row[0]).endswith(("+00:00", "+0000", "+00", "-00:00"))]
    written = str((moved or rows)[0][0])
    fmt = next(DATE_FORMATS[i] for i in offsets if (moved or rows)[0][2 + i])
    parsed = f"try_strptime({quote_literal(written)}, {quote_literal(fmt)})"
    stored = sample.value(f"SELECT CAST(CAST({parsed} AS TIMESTAMP) AS VARCHAR)")
    return (
        f"; they carry a UTC offset{' or Z' if utc else ''}: parse_dates has no time-zone-aware target, so "
        f"each value is converted to the same instant in UTC (e.g. {written!r} → {stored}){rest}"
    )
