"""Missing values → ``fill_nulls`` (median, mode or a constant) or drop the rows (``filter_rows``), by share.

Choice by column kind: a key cannot be invented, so rows without one are dropped; numbers get the median
(robust to outliers); booleans and categories the mode; free text a visible constant; dates are only
dropped (an invented date is worse than a missing one) and only when few. The higher the share, the
lower the confidence: filling half a column hides that the column is unreliable. Above ``DROP_SHARE``
the column rule proposes dropping the column instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.sql import is_numeric, is_text
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, pct, quote_ident
from airflow_provider_logidata.suggest.sample import looks_like_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

DROP_SHARE = 0.6  # above: mostly empty, see columns.mostly_null
FEW = 0.05
CATEGORY_DISTINCT = 50
UNKNOWN = "unknown"


@register_rule("nulls", "Missing values")
def nulls(sample: SampleContext) -> Iterator[Suggestion]:
    for name, duck_type in sample.columns:
        missing = sample.nulls(name)
        if not missing or not sample.non_null(name):
            continue
        share = missing / sample.rows
        if share > DROP_SHARE:
            continue
        column = quote_ident(name)
        evidence = (
            f"{count(missing)} of {count(sample.rows)} sampled rows ({pct(missing, sample.rows)}) "
            f"have no {name}"
        )
        upper = duck_type.upper()
        node: ProposedNode | None = None
        if looks_like_key(name) and sample.distinct(name) >= 0.5 * sample.non_null(name):
            node = ProposedNode(
                "filter_rows", {"condition": f"{column} IS NOT NULL"}, f"Drop rows without {name}"
            )
            how, reason, base = (
                "drop those rows",
                f"{name!r} identifies rows; a row without it cannot be matched",
                0.8,
            )
        elif is_numeric(duck_type):
            node = ProposedNode(
                "fill_nulls", {"fills": [{"column": name, "strategy": "median"}]}, f"Fill {name}"
            )
            how, reason, base = "fill with the median", "the median is robust to outliers", 0.75
        elif upper == "BOOLEAN" or (is_text(duck_type) and sample.distinct(name) <= CATEGORY_DISTINCT):
            node = ProposedNode(
                "fill_nulls", {"fills": [{"column": name, "strategy": "mode"}]}, f"Fill {name}"
            )
            how, reason, base = (
                "fill with the most frequent value",
                f"{name!r} holds few distinct values",
                0.7,
            )
        elif is_text(duck_type):
            node = ProposedNode(
                "fill_nulls",
                {"fills": [{"column": name, "strategy": "constant", "value": UNKNOWN}]},
                f"Fill {name}",
            )
            how, reason, base = f"fill with {UNKNOWN!r}", "free text cannot be guessed; a visible marker", 0.6
        elif share <= FEW:
            node = ProposedNode(
                "filter_rows", {"condition": f"{column} IS NOT NULL"}, f"Drop rows without {name}"
            )
            how, reason, base = "drop those rows", "few rows and a value that should not be invented", 0.55
        if node is None:
            continue
        confidence = clamp(base - 0.5 * max(0.0, share - FEW))
        yield Suggestion(
            id=suggestion_id("nulls", [name]),
            rule="nulls",
            title=f"{how[0].upper()}{how[1:]} for missing {name}",
            evidence=evidence,
            confidence=confidence,
            confidence_reason=f"{reason}; {share:.0%} missing"
            + (" — many, check why" if share > 0.2 else ""),
            severity="high"
            if node.module == "filter_rows" and looks_like_key(name)
            else "medium"
            if share > FEW
            else "low",
            columns=[name],
            nodes=[node],
            share=share,
        )
