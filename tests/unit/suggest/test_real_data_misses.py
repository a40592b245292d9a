"""Suggestion misses seen on real data (nycflights13, issue 13), on samples shaped like it.

Three misses: case variants in a code column with thousands of distinct values (``tailnum``), ISO
timestamps with a zone stored as text (``time_hour``), and outlier deletion on skewed measures
(``dep_delay``, ``arr_delay``). Each fix is run through the engine (``apply_nodes``) and its config is
validated against the module's config model; the negative cases are the data each rule must leave alone.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.suggest import PipelineContext, Suggestion, suggest
from airflow_provider_logidata.suggest.effect import apply_nodes
from airflow_provider_logidata.suggest.rules.outliers import SKEWED, skew_of


def _validated(item: Suggestion) -> None:
    """Every proposed config is valid for its module, and the engine ran it on the sample."""
    for node in item.nodes:
        registry()[node.module].config_model.model_validate(node.config)
    assert item.effect is not None


def _one(table: pa.Table, rule: str, column: str) -> Suggestion | None:
    found = [s for s in suggest(table, only=[rule]) if column in s.columns]
    assert len(found) <= 1, [s.id for s in found]
    return found[0] if found else None


# -- 1. case variants in a high-cardinality code column ----------------------------------------------


def _tail(rng: random.Random) -> str:
    return f"N{rng.randint(100, 999)}{rng.choice(['AA', 'UA', 'DL', 'JB', 'WN', 'MQ'])}"


def tails_with_twins(rows: int = 1000) -> list[str | None]:
    """Thousands of planes, few flights each; 5% written in lower case, many beside an upper-case twin."""
    rng = random.Random(1)
    planes = [_tail(rng) for _ in range(700)]
    values: list[str | None] = [rng.choice(planes) for _ in range(rows)]
    for i in rng.sample(range(rows), rows // 20):
        values[i] = str(values[i]).lower()
    values[3] = None
    return values


def tails_without_twins() -> list[str | None]:
    """Every code once (no twin can meet), 3% in lower case: the column is overwhelmingly upper case."""
    rng = random.Random(2)
    codes = sorted({_tail(rng) for _ in range(3000)})[:800]
    return [code.lower() if i % 33 == 0 else code for i, code in enumerate(codes)]


def hashes_mostly_lower() -> list[str | None]:
    """Hex digests in lower case, 10% of them repeated in upper case: the majority decides lower."""
    rng = random.Random(3)
    digests = [f"{rng.getrandbits(48):012x}" for _ in range(600)]
    return [*digests, *(d.upper() for d in digests[:60])]


CODE_CASES = [
    pytest.param(tails_with_twins, "upper", True, id="tailnum-twins"),
    pytest.param(tails_without_twins, "upper", False, id="tailnum-overwhelming"),
    pytest.param(hashes_mostly_lower, "lower", True, id="hex-lower-majority"),
]


@pytest.mark.parametrize(("values", "case", "twins"), CODE_CASES)
def test_case_variants_in_codes_are_normalised_to_the_majority(
    values: Callable[[], list[str | None]], case: str, twins: bool
) -> None:
    column = values()
    table = pa.table({"tailnum": column, "n": list(range(len(column)))})
    non_null = [v for v in column if v is not None]
    assert len(set(non_null)) > 0.5 * len(non_null)  # beyond the category rule's cardinality
    item = _one(table, "inconsistent_case", "tailnum")
    assert item is not None
    _validated(item)
    (node,) = item.nodes
    assert node.module == "clean_text"
    assert node.config["columns"] == ["tailnum"] and node.config["case"] == case
    minority = sum(1 for v in non_null if v != (v.upper() if case == "upper" else v.lower()))
    assert f"{minority:,} of {len(non_null):,} values of tailnum" in item.evidence
    assert "holds codes" in item.evidence
    if twins:  # counted, with examples of a value beside its twin
        example = re.search(r"e\.g\. '([^']+)' / '([^']+)'", item.evidence)
        assert "also appear in" in item.evidence and example is not None
        assert example.group(1) in non_null and example.group(2) in non_null
        assert example.group(2) == (example.group(1).upper() if case == "upper" else example.group(1).lower())
    else:
        assert "also appear in" not in item.evidence and "overwhelming" not in item.evidence
    after = apply_nodes(table, item.nodes).table.column("tailnum").to_pylist()
    expected = [None if v is None else (v.upper() if case == "upper" else v.lower()) for v in column]
    assert after == expected
    assert _one(pa.table({"tailnum": after}), "inconsistent_case", "tailnum") is None


def _sentences() -> list[str]:
    rng = random.Random(4)
    words = ["the", "flight", "Was", "delayed", "by", "Weather", "crew", "late", "ATC", "hold"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + f" {i}" for i in range(400)]


def _title_names() -> list[str]:
    rng = random.Random(5)
    first = ["Anna", "Jean-Luc", "Mary", "Omar", "Li", "Zoe", "Karl", "Ines"]
    last = ["Smith", "O'Neil", "McDonald", "Dupont", "Nguyen", "Garcia", "Rossi", "Kim"]
    return [f"{rng.choice(first)}{rng.choice(last)}{i}" for i in range(400)] + ["SMITH1", "smith2"]


def _two_code_systems() -> list[str]:
    """Half upper, half lower, no code in both cases: two conventions, not variants."""
    return [f"AB{i:04d}" for i in range(300)] + [f"xy{i:04d}" for i in range(300)]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(_sentences, id="free-text"),
        pytest.param(_title_names, id="title-case-names"),
        pytest.param(_two_code_systems, id="two-code-systems"),
        pytest.param(lambda: [f"N{i}AA" for i in range(500)], id="all-upper-codes"),
        pytest.param(lambda: [f"N{i}aa" if i % 2 else f"N{i}AA" for i in range(500)], id="mixed-within"),
        pytest.param(lambda: ["n1aa", "N1AA"] * 5 + [f"N{i}" for i in range(2, 9)], id="too-few-values"),
    ],
)
def test_no_case_suggestion_on_free_text_names_or_consistent_codes(values: Callable[[], list[str]]) -> None:
    column = values()
    assert _one(pa.table({"value": column}), "inconsistent_case", "value") is None


def test_code_column_below_the_category_ratio_still_gets_upper_case() -> None:
    """Many flights per plane (a 10,000-row sample): the category branch handles it, and so does the
    majority there."""
    rng = random.Random(6)
    planes = [f"N{n}{rng.choice(['AA', 'UA'])}" for n in rng.sample(range(100, 999), 300)]
    column = [rng.choice(planes) for _ in range(3000)]
    column = [v.lower() if i % 25 == 0 else v for i, v in enumerate(column)]
    item = _one(pa.table({"tailnum": column}), "inconsistent_case", "tailnum")
    assert item is not None and item.nodes[0].config["case"] == "upper"


# -- 2. ISO timestamps with a zone stored as text ----------------------------------------------------


def _utc(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _stamps(suffixes: list[str], fraction: str = "", sep: str = "T") -> list[str]:
    start = dt.datetime(2013, 1, 1, 5)
    return [
        f"{(start + dt.timedelta(hours=7 * i)).strftime(f'%Y-%m-%d{sep}%H:%M:%S')}{fraction}"
        f"{suffixes[i % len(suffixes)]}"
        for i in range(60)
    ]


ZONED = [
    pytest.param(_stamps(["Z"]), ["%Y-%m-%dT%H:%M:%SZ"], "end in Z", id="utc-z"),
    pytest.param(_stamps(["+01:00"]), ["%Y-%m-%dT%H:%M:%S%z"], "converted", id="offset"),
    pytest.param(
        _stamps(["+01:00", "-05:00", "+05:30", "+0200"]), ["%Y-%m-%dT%H:%M:%S%z"], "converted", id="offsets"
    ),
    pytest.param(
        _stamps(["+01:00"] * 3 + ["Z"]),
        ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"],
        "converted",
        id="offsets-and-z",
    ),
    pytest.param(_stamps(["Z"], ".250"), ["%Y-%m-%dT%H:%M:%S.%fZ"], "end in Z", id="fraction-z"),
    pytest.param(_stamps(["-04:00"], ".5"), ["%Y-%m-%dT%H:%M:%S.%f%z"], "converted", id="fraction-offset"),
    pytest.param(_stamps(["+02:00"], sep=" "), ["%Y-%m-%d %H:%M:%S%z"], "converted", id="space-offset"),
]


@pytest.mark.parametrize(("values", "formats", "note"), ZONED)
def test_zoned_iso_timestamps_parse_to_the_same_instant_in_utc(
    values: list[str], formats: list[str], note: str
) -> None:
    table = pa.table({"time_hour": values})
    item = _one(table, "dates_as_text", "time_hour")
    assert item is not None
    _validated(item)
    (node,) = item.nodes
    assert node.module == "parse_dates"
    assert node.config == {
        "columns": ["time_hour"],
        "formats": formats,
        "target": "timestamp",
        "on_error": "fail",
    }
    assert "UTC" in item.title and note in item.evidence
    parsed = apply_nodes(table, item.nodes).table.column("time_hour")
    assert pa.types.is_timestamp(parsed.type)
    assert parsed.to_pylist() == [_utc(v) for v in values]
    if note == "converted":  # the example shows a written value and its instant in UTC
        match = re.search(r"e\.g\. '([^']+)' → ([0-9-]+ [0-9:.]+)", item.evidence)
        assert match is not None, item.evidence
        assert match.group(1) in values and not match.group(1).endswith("Z")
        assert dt.datetime.fromisoformat(match.group(2)) == _utc(match.group(1))


def test_zone_free_timestamps_keep_their_plain_format() -> None:
    values = _stamps([""])
    item = _one(pa.table({"t": values}), "dates_as_text", "t")
    assert item is not None
    assert item.nodes[0].config["formats"] == ["%Y-%m-%dT%H:%M:%S"]
    assert "UTC" not in item.title and "zone" not in item.evidence


def test_zoned_and_naive_values_together_say_the_naive_ones_are_kept() -> None:
    values = _stamps(["+01:00"] * 3 + [""])
    item = _one(pa.table({"t": values}), "dates_as_text", "t")
    assert item is not None
    _validated(item)
    assert "without a zone are kept as written" in item.evidence
    parsed = apply_nodes(pa.table({"t": values}), item.nodes).table.column("t").to_pylist()
    assert parsed == [_utc(v) if "+" in v else dt.datetime.fromisoformat(v) for v in values]


# -- 3. outliers on skewed measures ------------------------------------------------------------------


def flight_delays(rows: int = 5000, seed: int = 1) -> list[int | None]:
    """Like nycflights13's dep_delay: 80% between -10 and 30 minutes, a continuous tail to 1,300."""
    rng = random.Random(seed)
    out: list[int | None] = []
    for _ in range(rows):
        u = rng.random()
        if u < 0.8:
            value = rng.triangular(-10, 30, -4)
        elif u < 0.99:
            value = 30 + rng.expovariate(1 / 60)
        else:
            value = rng.uniform(300, 1300)
        out.append(round(min(value, 1300)))
    out[7] = None
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skewed_delays_are_flagged_not_removed(seed: int) -> None:
    delays = flight_delays(seed=seed)
    table = pa.table({"flight": list(range(len(delays))), "dep_delay": delays})
    item = _one(table, "outliers", "dep_delay")
    assert item is not None
    _validated(item)
    assert [n.module for n in item.nodes] == ["derive_column"]
    assert item.severity == "low" and item.confidence < 0.65
    assert "is skewed" in item.evidence and "no row is removed" in item.confidence_reason
    # The unwidened fences would have cut the tail (the miss), the flag marks the far end only.
    plain = int(item.evidence.split("long tail (")[1].split(" values")[0].replace(",", ""))
    assert plain > 0.05 * len(delays)
    applied = apply_nodes(table, item.nodes).table
    assert applied.num_rows == table.num_rows
    flags = applied.column("dep_delay_outlier").to_pylist()
    assert None not in flags
    flagged = [d for d, f in zip(delays, flags, strict=True) if f]
    assert 0 < len(flagged) <= 0.02 * len(delays) and min(v for v in flagged if v is not None) > 300
    for rule in ("impossible_values", "outliers"):  # nothing impossible; and the fix quiets the rule
        assert _one(applied, rule, "dep_delay") is None


def test_quality_check_on_the_column_also_quiets_the_rule() -> None:
    table = pa.table({"dep_delay": flight_delays()})
    context = PipelineContext(
        node_module="quality_check",
        node_config={"checks": [{"type": "range", "column": "dep_delay", "max": 600}]},
    )
    assert not [s for s in suggest(table, only=["outliers"], pipeline=context) if "dep_delay" in s.columns]


def _uniform(rows: int = 2000, seed: int = 8) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 20) for _ in range(rows)]


def _with(values: list[Any], replacements: dict[int, Any]) -> list[Any]:
    out = list(values)
    for index, value in replacements.items():
        out[index] = value
    return out


IMPOSSIBLE = [
    pytest.param(
        "quantity",
        _with(_uniform(), {5: -3, 50: -1, 500: -7, 900: -2, 1500: None}),
        '"quantity" IS NULL OR "quantity" >= 0',
        "medium",
        id="negative-quantity",
    ),
    pytest.param(
        "month",
        _with([1 + i % 12 for i in range(1200)], {3: 13, 30: 0, 300: 14}),
        '"month" IS NULL OR "month" BETWEEN 1 AND 12',
        "high",
        id="month-13",
    ),
    pytest.param(
        "latitude",
        _with(
            [round(random.Random(9).gauss(45, 5) + i % 7 * 0.1, 3) for i in range(1000)], {1: 95.5, 2: -120.0}
        ),
        '"latitude" IS NULL OR "latitude" BETWEEN -90 AND 90',
        "high",
        id="latitude",
    ),
    pytest.param(
        "distance",
        _with([round(random.Random(10).gauss(900, 150)) for _ in range(1000)], {10: -1000, 20: -250}),
        '"distance" IS NULL OR "distance" >= 0',
        "medium",
        id="negative-distance",
    ),
]


@pytest.mark.parametrize(("name", "values", "condition", "severity"), IMPOSSIBLE)
def test_impossible_values_in_symmetric_data_are_deleted_with_a_reason(
    name: str, values: list[Any], condition: str, severity: str
) -> None:
    table = pa.table({name: values})
    item = _one(table, "impossible_values", name)
    assert item is not None
    _validated(item)
    (node,) = item.nodes
    assert node.module == "filter_rows" and node.config == {"condition": condition}
    assert item.severity == severity
    assert "but " in item.evidence and (
        "cannot be negative" in item.evidence or "lies between" in item.evidence
    )
    kept = apply_nodes(table, item.nodes).table.column(name).to_pylist()
    assert kept == [v for v in values if v is None or _possible(name, v)]  # nulls are not impossible
    # The outlier rule leaves them to this one: no quarantine or flag proposes the same values again.
    assert _one(table, "outliers", name) is None


def _possible(name: str, value: float) -> bool:
    low, high = {"quantity": (0, None), "distance": (0, None), "month": (1, 12), "latitude": (-90, 90)}[name]
    return value >= low and (high is None or value <= high)


NOT_IMPOSSIBLE = [
    pytest.param("balance", _with(_uniform(), {5: -3, 50: -1}), id="signed-name"),
    pytest.param("quantity", [v if i % 3 else -v for i, v in enumerate(_uniform())], id="many-negatives"),
    pytest.param("delay_minutes", _with(_uniform(), {5: -3, 50: -1}), id="delay-is-signed"),
    pytest.param("temperature", [round(random.Random(11).gauss(21, 2.5), 2) for _ in range(2000)], id="temp"),
    pytest.param("quantity", _uniform(), id="clean-quantity"),
    pytest.param("hour", [i % 24 for i in range(1000)], id="clean-hour"),
    pytest.param("hhmm_hour", [(i % 24) * 100 for i in range(1000)], id="hour-holding-hhmm"),
]


@pytest.mark.parametrize(("name", "values"), NOT_IMPOSSIBLE)
def test_no_impossible_or_outlier_suggestion_on_plausible_values(name: str, values: list[Any]) -> None:
    table = pa.table({name: values})
    assert _one(table, "impossible_values", name) is None
    assert _one(table, "outliers", name) is None


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param(_with(_uniform(), {3: 900, 40: 1000, 700: 850}), "roughly symmetric", id="symmetric"),
        # 1 in 7 quantities 50 x too large: the outer quantiles stretch, the quartiles do not lean.
        pytest.param(
            [v * 50 if i % 7 == 0 else v for i, v in enumerate(_uniform())],
            "a cluster of far values",
            id="cluster-of-errors",
        ),
    ],
)
def test_far_outliers_of_an_unskewed_measure_are_still_quarantined(values: list[Any], reason: str) -> None:
    item = _one(pa.table({"value": values}), "outliers", "value")
    assert item is not None
    _validated(item)
    (node,) = item.nodes
    assert node.module == "quality_check" and node.config["action"] == "quarantine"
    assert reason in item.evidence


@pytest.mark.parametrize(
    ("quantiles", "skewed"),
    [
        ((-1.28, -0.67, 0.0, 0.67, 1.28), False),  # normal
        ((3, 6, 10, 15, 18), False),  # uniform 1..20, integer quantiles
        ((-7, -5, -2, 11, 49), True),  # nycflights13 dep_delay
        ((-26, -17, -5, 14, 52), True),  # nycflights13 arr_delay
        ((2.9, 3.2, 3.57, 4.0, 8.7), False),  # log amounts with 10% far errors: tails only
        ((-49, -11, 2, 5, 7), True),  # a long left tail
    ],
)
def test_skew_needs_long_tails_and_leaning_quartiles(quantiles: tuple[float, ...], skewed: bool) -> None:
    skew = skew_of(*quantiles)
    assert skew.skewed is skewed
    if skewed:
        assert abs(skew.kelly) >= SKEWED and skew.widening > 2
    else:
        assert skew.widening == 1.0
