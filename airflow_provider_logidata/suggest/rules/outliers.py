"""Outliers by the interquartile range → ``quality_check`` range with quarantine (outliers set aside).

Fences are 3 x IQR beyond the quartiles (Tukey's "far out"), so a normal column is never flagged (its
fences sit near +-4.7 sigma). For positive columns a value must also lie outside the same fences on the log
scale: amounts and durations are right-skewed (log-normal), and their long tail is not an error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, examples_text, pct, quote_ident
from airflow_provider_logidata.suggest.sample import SAMPLE, looks_like_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

K = 3.0
MIN_VALUES = 20
MIN_DISTINCT = 10


def _round_out(value: float, up: bool, integer: bool) -> float | int:
    if integer:
        return math.ceil(value) if up else math.floor(value)
    if value == 0:
        return 0.0
    digits = 3 - math.floor(math.log10(abs(value)))
    scale = 10.0**digits
    return (math.ceil(value * scale) if up else math.floor(value * scale)) / scale


def _checked(sample: SampleContext, name: str) -> bool:
    """The node is already a quality_check with a range on this column (the fix was applied)."""
    pipeline = sample.pipeline
    if pipeline.node_module != "quality_check":
        return False
    return any(
        c.get("type") == "range" and c.get("column") == name for c in pipeline.node_config.get("checks", [])
    )


@register_rule("outliers", "Values far outside the interquartile range")
def outliers(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.numeric_columns():
        if looks_like_key(name) or _checked(sample, name):
            continue
        if sample.non_null(name) < MIN_VALUES or sample.distinct(name) < MIN_DISTINCT:
            continue
        column = quote_ident(name)
        value = f"CAST({column} AS DOUBLE)"
        q1, q2, q3, low = sample.query(
            f"SELECT quantile_cont({value}, 0.25), quantile_cont({value}, 0.5), "
            f"quantile_cont({value}, 0.75), "
            f"min({value}) FROM {SAMPLE} WHERE isfinite({value})"
        )[0]
        if q1 is None or q3 <= q1:
            continue
        iqr = q3 - q1
        lo, hi = q1 - K * iqr, q3 + K * iqr
        log_scale = low > 0
        if log_scale:
            l1, l3 = sample.query(
                f"SELECT quantile_cont(ln({value}), 0.25), quantile_cont(ln({value}), 0.75) FROM {SAMPLE} "
                f"WHERE {value} > 0 AND isfinite({value})"
            )[0]
            # Outside both the plain and the log-scale fences: a skewed tail is not flagged, and for
            # symmetric data the log fences are the wider ones anyway.
            lo = min(lo, math.exp(l1 - K * (l3 - l1)))
            hi = max(hi, math.exp(l3 + K * (l3 - l1)))
        below, above = (
            int(x)
            for x in sample.query(
                f"SELECT count(*) FILTER (WHERE {value} < {lo!r}), "
                f"count(*) FILTER (WHERE {value} > {hi!r}) FROM {SAMPLE}"
            )[0]
        )
        found = below + above
        if not found:
            continue
        integer = sample.type_of(name).upper() in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
        check: dict[str, object] = {"type": "range", "column": name, "name": f"{name} within IQR fences"}
        if below:
            check["min"] = _round_out(lo, up=False, integer=integer)
        if above:
            check["max"] = _round_out(hi, up=True, integer=integer)
        bounds = [f"below {check['min']}"] if below else []
        bounds += [f"above {check['max']}"] if above else []
        extremes = [
            r[0]
            for r in sample.query(
                f"SELECT {column} FROM {SAMPLE} WHERE {value} < {lo!r} OR {value} > {hi!r} "
                f"ORDER BY abs({value} - {q2!r}) DESC LIMIT 3"
            )
        ]
        far = max(abs(float(x) - q2) for x in extremes) / max(q3 - q1, 1e-12)
        share = found / sample.non_null(name)
        yield Suggestion(
            id=suggestion_id("outliers", [name]),
            rule="outliers",
            title=f"Set aside {count(found)} outlier(s) in {name}",
            evidence=f"{count(found)} of {count(sample.non_null(name))} values of {name} "
            f"({pct(found, sample.non_null(name))}) "
            f"lie {' or '.join(bounds)} "
            f"({K:g} x IQR beyond the quartiles"
            f"{' and on the log scale' if log_scale else ''}); e.g. {examples_text(extremes)}; median {q2:g}",
            confidence=clamp(0.55 + 0.3 * min(1.0, far / 50) - (0.2 if share > 0.05 else 0.0)),
            confidence_reason=f"the most extreme value is {far:.0f} x IQR from the median; "
            "outliers may be real, "
            "so they are quarantined (port 'rejected'), not deleted",
            severity="medium",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="quality_check",
                    config={"checks": [check], "action": "quarantine"},
                    label=f"Quarantine {name} outliers",
                )
            ],
            share=share,
        )
