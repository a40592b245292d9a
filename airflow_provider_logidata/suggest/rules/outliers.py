"""Far-out numbers: set aside, flag or delete, by what the column is.

An extreme number is an error, a rare real value, or impossible, and each gets a different fix:

* Impossible values (rule ``impossible_values``): a negative number in a column whose name says it counts
  or measures something that cannot be negative (``quantity``, ``distance``), or a number outside a bound
  the name implies (a ``month`` 1..12, a ``latitude`` -90..90). Only when such values are rare
  (``IMPOSSIBLE_MAX_SHARE``): more of them means the name does not say what the column holds (returns
  written as negative quantities). These alone are deleted (``filter_rows``): no reading makes them right.
* Outliers of a roughly symmetric measure (rule ``outliers``): beyond fences 3 x IQR past the quartiles
  (Tukey's "far out"), which a normal column never crosses (they sit near +-4.7 sigma). For positive
  columns a value must also lie outside the same fences on the log scale, so a log-normal tail (amounts,
  durations) is not flagged. Such values are quarantined (``quality_check``, port ``rejected``): set
  aside for review, not deleted.
* Outliers of a skewed measure (rule ``outliers``): flight delays have most values within half an hour
  and a continuous tail to a day, which plain fences cut at an hour (9% of real rows). Skew is measured
  by quantile skewness at two levels (``Skew``): the tails (10%/90%) must be unequal and the quartiles
  lean the same way, which a cluster of errors does not make them do. The fence on the long side is
  widened by ``exp(3 * skew)`` (the adjusted boxplot of Hubert and Vandervieren, with the quantile
  skewness in place of the medcouple; for a positive column on the log scale, and only when the values
  are skewed there too) and what still lies beyond is only flagged in a new boolean column
  (``derive_column``): a skewed measure's extremes are usually real, and no row is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, examples_text, pct, quote_ident
from airflow_provider_logidata.suggest.rules.names import snake_case
from airflow_provider_logidata.suggest.sample import SAMPLE, looks_like_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

K = 3.0
MIN_VALUES = 20
MIN_DISTINCT = 10
# Kelly's skewness (q90 + q10 - 2 q50) / (q90 - q10): 0.3 means one tail (median to q90, or q10 to
# median) is 1.9 x the other. A normal or uniform sample stays within +-0.1 (integer rounding included);
# flight delays reach 0.8 (departures) and 0.45 (arrivals). Bowley's skewness (the same on the quartiles)
# must lean the same way by LEANING: delays reach 0.6 and 0.2, while 10% of values 1,000 x too large
# leave it near 0 (they only stretch the outer quantiles).
SKEWED = 0.3
LEANING = 0.1
FLAG_SUFFIX = "_outlier"
INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)

# -- impossible values -------------------------------------------------------------------------------

IMPOSSIBLE_MAX_SHARE = 0.02
# Last word of a column name → what the column measures, which cannot be negative.
NON_NEGATIVE = {
    "count": "count",
    "counts": "count",
    "cnt": "count",
    "qty": "quantity",
    "quantity": "quantity",
    "quantities": "quantity",
    "duration": "duration",
    "distance": "distance",
    "age": "age",
    "weight": "weight",
    "height": "height",
    "width": "width",
    "length": "length",
    "size": "size",
    "price": "price",
    "seconds": "duration",
    "secs": "duration",
    "minutes": "duration",
    "mins": "duration",
    "hours": "duration",
    "hrs": "duration",
    "days": "duration",
}
# First word of a column name that makes it a count (num_items, nb_visits, n_children).
COUNT_PREFIXES = frozenset({"num", "nb", "n", "number"})
# Words that make a measure signed whatever its unit: a delay of -5 minutes is an early departure.
SIGNED = frozenset(
    {"delay", "offset", "diff", "difference", "delta", "change", "variance", "balance", "net", "gap", "lag"}
)
# Last word of a column name → the bounds any value must respect (inclusive). Hours allow 24 (ISO 8601
# writes the end of a day 24:00) and seconds 60 (a leap second).
BOUNDS: dict[str, tuple[int, int]] = {
    "month": (1, 12),
    "hour": (0, 24),
    "minute": (0, 59),
    "second": (0, 60),
    "latitude": (-90, 90),
    "lat": (-90, 90),
    "longitude": (-180, 180),
    "lon": (-180, 180),
    "lng": (-180, 180),
    "humidity": (0, 100),
}


@dataclass(frozen=True)
class Impossible:
    """Values of one column that no reading makes right, and why."""

    bad: str  # SQL: true where a value is impossible (false for null and NaN)
    keep: str  # filter_rows condition: the possible values and the nulls
    broken: str  # what the impossible values do: "are negative", "lie outside 1..12"
    respected: str  # what the others do: "are 0 or more"
    why: str  # what says the values are impossible
    physical: bool  # a bound of the world (month, latitude), not an inference from a unit in the name
    found: int
    examples: list[object]


def _bounds(name: str) -> tuple[int | None, int | None, str, bool] | None:
    """``(min, max, why, physical)`` the column's name implies, or None."""
    words = snake_case(name).split("_")
    last = words[-1]
    if last in BOUNDS:
        low, high = BOUNDS[last]
        return low, high, f"a {last} lies between {low} and {high} whatever the data", True
    if SIGNED & set(words):
        return None
    what = NON_NEGATIVE.get(last) or ("count" if len(words) > 1 and words[0] in COUNT_PREFIXES else None)
    if what is None:
        return None
    return 0, None, f"the name {name!r} says it holds a {what}, which cannot be negative", False


def impossible(sample: SampleContext, name: str) -> Impossible | None:
    """The column's impossible values when they are few, else None (none, or the name misleads)."""
    bounds = _bounds(name)
    non_null = sample.non_null(name)
    if bounds is None or not non_null:
        return None
    low, high, why, physical = bounds
    column = quote_ident(name)
    value = f"CAST({column} AS DOUBLE)"
    outside = [f"{value} < {low}"] if low is not None else []
    outside += [f"{value} > {high}"] if high is not None else []
    bad = f"(NOT isnan({value}) AND ({' OR '.join(outside)}))"
    found = int(sample.value(f"SELECT count(*) FILTER (WHERE {bad}) FROM {SAMPLE}"))
    if not found or found > IMPOSSIBLE_MAX_SHARE * non_null:
        return None
    examples = [
        row[0]
        for row in sample.query(
            f"SELECT {column} FROM {SAMPLE} WHERE {bad} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3"
        )
    ]
    if high is None:
        keep, broken, respected = f"{column} >= {low}", "are negative", f"are {low} or more"
    else:
        keep = f"{column} BETWEEN {low} AND {high}"
        broken, respected = f"lie outside {low}..{high}", "lie within it"
    return Impossible(bad, f"{column} IS NULL OR {keep}", broken, respected, why, physical, found, examples)


@register_rule("impossible_values", "Values a column cannot hold (a negative quantity, a month 13)")
def impossible_values(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.numeric_columns():
        found = impossible(sample, name)
        if found is None:
            continue
        non_null = sample.non_null(name)
        share = found.found / non_null
        yield Suggestion(
            id=suggestion_id("impossible_values", [name]),
            rule="impossible_values",
            title=f"Drop {count(found.found)} row(s) with an impossible {name}",
            evidence=f"{count(found.found)} of {count(non_null)} values of {name} "
            f"({pct(found.found, non_null)}) {found.broken} (e.g. {examples_text(found.examples)}), "
            f"but {found.why}; the other {count(non_null - found.found)} {found.respected}",
            confidence=clamp((0.85 if found.physical else 0.75) - 5 * share),
            confidence_reason=f"{found.why}, and only {pct(found.found, non_null)} of the values break "
            "that: no reading makes them right, so the rows are deleted rather than flagged"
            + (
                ""
                if found.physical
                else "; if a negative value means something here (a return, a correction), dismiss this"
            ),
            severity="high" if found.physical else "medium",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="filter_rows", config={"condition": found.keep}, label=f"Drop impossible {name}"
                )
            ],
            share=share,
        )


# -- outliers ----------------------------------------------------------------------------------------


def _round_out(value: float, up: bool, integer: bool) -> float | int:
    if integer:
        return math.ceil(value) if up else math.floor(value)
    if value == 0:
        return 0.0
    digits = 3 - math.floor(math.log10(abs(value)))
    scale = 10.0**digits
    return (math.ceil(value * scale) if up else math.floor(value * scale)) / scale


@dataclass(frozen=True)
class Skew:
    """Quantile skewness at two levels: Kelly's (10%/90%) sees a long tail, Bowley's (quartiles) whether
    the body leans the same way. A skewed measure does both; a cluster of errors (up to a quarter of the
    values) stretches only the outer quantiles."""

    kelly: float
    bowley: float

    @property
    def skewed(self) -> bool:
        return abs(self.kelly) >= SKEWED and self.bowley * math.copysign(1.0, self.kelly) >= LEANING

    @property
    def widening(self) -> float:
        """How much the fence on the long side is widened (1: not skewed)."""
        return math.exp(3 * abs(self.kelly)) if self.skewed else 1.0

    def describe(self) -> str:
        if self.skewed:
            return f"quantile skewness {self.kelly:+.2f}, quartile skewness {self.bowley:+.2f}"
        if abs(self.kelly) >= SKEWED:
            return (
                f"the outer quantiles are stretched (skewness {self.kelly:+.2f}) but not the quartiles "
                f"({self.bowley:+.2f}): a cluster of far values, not a long tail"
            )
        return f"roughly symmetric: quantile skewness {self.kelly:+.2f}"


def skew_of(q10: float, q25: float, q50: float, q75: float, q90: float) -> Skew:
    """0 for symmetric data, towards +1 (-1) as the upper (lower) side dominates."""
    kelly = 0.0 if q90 <= q10 else (q90 + q10 - 2 * q50) / (q90 - q10)
    bowley = 0.0 if q75 <= q25 else (q75 + q25 - 2 * q50) / (q75 - q25)
    return Skew(kelly, bowley)


def _exp(value: float) -> float:
    return math.exp(min(value, 700.0))


def _checked(sample: SampleContext, name: str) -> bool:
    """The fix is in place: the node is a quality_check with a range on the column, or the column is
    flagged already."""
    if f"{name}{FLAG_SUFFIX}" in dict(sample.columns):
        return True
    pipeline = sample.pipeline
    if pipeline.node_module != "quality_check":
        return False
    return any(
        c.get("type") == "range" and c.get("column") == name for c in pipeline.node_config.get("checks", [])
    )


@dataclass(frozen=True)
class _Fences:
    low: float
    high: float
    skew: Skew  # of the values as they are
    log_scale: bool  # positive values: the fences are the wider of the plain and the log-scale ones
    plain: tuple[float, float]  # the fences before any widening for the skew
    widened: float  # how much the long side was widened (1: not)


def _fences(sample: SampleContext, value: str, where: str, quantiles: list[float], low: float) -> _Fences:
    """3 x IQR fences; for a positive column also on the log scale (the wider of both: a log-normal tail
    stays inside). A skewed column's long side is widened by its skew: on the plain scale, or for a
    positive column on the log scale when it is still skewed there (a tail heavier than log-normal)."""
    skew = skew_of(*quantiles)
    _, q25, _, q75, _ = quantiles
    iqr = q75 - q25
    lo, hi = q25 - K * iqr, q75 + K * iqr
    if low > 0:
        logs = sample.query(
            f"SELECT quantile_cont(ln({value}), [0.1, 0.25, 0.5, 0.75, 0.9]) FROM {SAMPLE} WHERE {where}"
        )[0][0]
        l25, l75 = logs[1], logs[3]
        spread = K * (l75 - l25)
        plain = (min(lo, _exp(l25 - spread)), max(hi, _exp(l75 + spread)))
        log_skew = skew_of(*logs)
        if not (skew.skewed and log_skew.skewed and log_skew.kelly * skew.kelly > 0):
            return _Fences(*plain, skew, True, plain, 1.0)
        widened = log_skew.widening
        if log_skew.kelly > 0:
            return _Fences(plain[0], max(hi, _exp(l75 + spread * widened)), skew, True, plain, widened)
        return _Fences(min(lo, _exp(l25 - spread * widened)), plain[1], skew, True, plain, widened)
    widened = skew.widening
    if skew.kelly > 0:
        return _Fences(lo, q75 + K * iqr * widened, skew, False, (lo, hi), widened)
    return _Fences(q25 - K * iqr * widened, hi, skew, False, (lo, hi), widened)


@register_rule("outliers", "Values far outside the interquartile range")
def outliers(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.numeric_columns():
        if looks_like_key(name) or _checked(sample, name):
            continue
        if sample.non_null(name) < MIN_VALUES or sample.distinct(name) < MIN_DISTINCT:
            continue
        column = quote_ident(name)
        value = f"CAST({column} AS DOUBLE)"
        # Impossible values are the other rule's (deleted); they must not shape the fences either.
        bad = impossible(sample, name)
        where = f"isfinite({value})" + (f" AND NOT {bad.bad}" if bad else "")
        quantiles, low, mean, values = sample.query(
            f"SELECT quantile_cont({value}, [0.1, 0.25, 0.5, 0.75, 0.9]), min({value}), avg({value}), "
            f"count(*) FROM {SAMPLE} WHERE {where}"
        )[0]
        if quantiles is None or quantiles[3] <= quantiles[1]:
            continue
        q25, q50, q75 = quantiles[1], quantiles[2], quantiles[3]
        fences = _fences(sample, value, where, quantiles, low)
        integer = sample.type_of(name).upper() in INTEGER_TYPES
        lo = _round_out(fences.low, up=False, integer=integer)
        hi = _round_out(fences.high, up=True, integer=integer)
        plain_lo, plain_hi = fences.plain
        below, above, plain = (
            int(x)
            for x in sample.query(
                f"SELECT count(*) FILTER (WHERE {value} < {lo!r}), count(*) FILTER (WHERE {value} > {hi!r}), "
                f"count(*) FILTER (WHERE {value} < {plain_lo!r} OR {value} > {plain_hi!r}) "
                f"FROM {SAMPLE} WHERE {where}"
            )[0]
        )
        found = below + above
        if not found:
            continue
        bounds = [f"below {lo}"] if below else []
        bounds += [f"above {hi}"] if above else []
        outside = [f"{column} < {lo!r}"] if below else []
        outside += [f"{column} > {hi!r}"] if above else []
        extremes = [
            r[0]
            for r in sample.query(
                f"SELECT {column} FROM {SAMPLE} WHERE {where} AND ({' OR '.join(outside)}) "
                f"ORDER BY abs({value} - {q50!r}) DESC LIMIT 3"
            )
        ]
        far = max(abs(float(x) - q50) for x in extremes) / max(q75 - q25, 1e-12)
        share = found / int(values)
        if fences.skew.skewed:
            flagged = _flag(sample, name, fences, (found, int(values), plain), bounds, outside, extremes, far)
            if flagged is not None:
                yield flagged
            continue
        check: dict[str, object] = {"type": "range", "column": name, "name": f"{name} within IQR fences"}
        if below:
            check["min"] = lo
        if above:
            check["max"] = hi
        yield Suggestion(
            id=suggestion_id("outliers", [name]),
            rule="outliers",
            title=f"Set aside {count(found)} outlier(s) in {name}",
            evidence=f"{count(found)} of {count(values)} values of {name} "
            f"({pct(found, values)}) "
            f"lie {' or '.join(bounds)} "
            f"({K:g} x IQR beyond the quartiles"
            f"{' and on the log scale' if fences.log_scale else ''}); e.g. {examples_text(extremes)}; "
            f"median {q50:g}, mean {mean:g}; {fences.skew.describe()}",
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


def _flag(
    sample: SampleContext,
    name: str,
    fences: _Fences,
    counts: tuple[int, int, int],
    bounds: list[str],
    outside: list[str],
    extremes: list[object],
    far: float,
) -> Suggestion | None:
    """A skewed measure: a boolean column marks the far tail, no row is removed. ``counts``: values
    beyond the widened fences, values, values beyond the plain fences."""
    found, values, plain = counts
    flag = f"{name}{FLAG_SUFFIX}"
    if flag.lower() in {c.lower() for c, _ in sample.columns}:
        return None
    kelly = fences.skew.kelly
    ratio = (1 + abs(kelly)) / (1 - abs(kelly)) if abs(kelly) < 1 else math.inf
    side, other = ("above", "below") if kelly > 0 else ("below", "above")
    if not fences.log_scale:
        beyond = (
            f"Plain {K:g} x IQR fences would cut its long tail ({count(plain)} values, "
            f"{pct(plain, values)}); with the fence on the long side widened {fences.widened:.1f} x "
            "for the skew"
        )
    elif fences.widened > 1:
        beyond = (
            f"Beyond {K:g} x IQR fences on the plain and the log scale, the log one widened "
            f"{fences.widened:.1f} x for a tail heavier than log-normal ({count(plain)} values without)"
        )
    else:
        beyond = (
            f"Beyond {K:g} x IQR fences on the plain and the log scale (which allows for a log-normal tail)"
        )
    return Suggestion(
        id=suggestion_id("outliers", [name]),
        rule="outliers",
        title=f"Flag {count(found)} extreme value(s) of {name}",
        evidence=f"{name} is skewed: its {'90th' if kelly > 0 else '10th'} percentile lies "
        f"{ratio:.1f} x further {side} the median than the {'10th' if kelly > 0 else '90th'} lies "
        f"{other} it ({fences.skew.describe()}). {beyond}, {count(found)} of {count(values)} values "
        f"({pct(found, values)}) still lie {' or '.join(bounds)}; e.g. {examples_text(extremes)}",
        confidence=clamp(0.3 + 0.2 * min(1.0, far / 50)),
        confidence_reason="a skewed measure has a long tail of real values, so these are most likely real "
        f"too: they are flagged in a new column {flag!r} (true beyond the fences), no row is removed; "
        "filter on it where the extremes distort a result",
        severity="low",
        columns=[name],
        nodes=[
            ProposedNode(
                module="derive_column",
                config={
                    "columns": [{"name": flag, "expression": f"coalesce({' OR '.join(outside)}, false)"}]
                },
                label=f"Flag extreme {name}",
            )
        ],
        share=found / max(1, values),
    )
