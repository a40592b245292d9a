"""parse_dates tries each value as it is before trimming it (``raw_first`` in its DuckDB builder): value by
value, the result must be what trimming every value first gives (the step's documented behaviour: white
space around a value is ignored, ASCII and Unicode spaces alike), for every white space character at
either end, several formats in both orders, both targets and both error modes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError

# RE2's \s and \p{Z}, plus characters that are neither (\v, NEL, zero-width space, BOM, a separator).
SPACES = [
    " ", "\t", "\n", "\v", "\f", "\r", "\u00a0", "\u1680", "\u2000", "\u2005", "\u200a", "\u2028",
    "\u2029", "\u202f", "\u205f", "\u3000", "\u0085", "\u200b", "\ufeff", "\x1c",
]  # fmt: skip
BASES = [
    "2024-03-01", "01/03/2024", "1/3/2024", "2024-03-01 10:20:30", "2024-03-01T10:20:30", "March 01 2024",
    "20240301", "epoch", "Infinity", "n/a", "", "2024-3-1", "31/02/2024",
]  # fmt: skip
FORMATS = [
    ["%Y-%m-%d"],
    ["%d/%m/%Y", "%Y-%m-%d"],
    ["%Y-%m-%d", "%d/%m/%Y"],
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    ["%B %d %Y", "%Y%m%d"],
    ["%d/%m/%Y %H:%M", "%m/%d/%Y"],
]


def values() -> list[str | None]:
    out: list[str | None] = [None, *BASES]
    for space, base in itertools.product(SPACES, BASES):
        out += [
            space + base,
            base + space,
            space + base + space,
            " " + space + base,
            base + space + " ",
            space + " " + base + " " + space,
            space * 2,
        ]
    return out


def as_numbers(column: Any) -> list[Any]:
    """Dates as days and timestamps as microseconds: DuckDB's infinities are no Python dates."""
    return column.cast(pa.int32() if pa.types.is_date32(column.type) else pa.int64()).to_pylist()


def trimmed_first(data: Sequence[str | None], formats: list[str], target: str) -> list[Any]:
    """The reference: every value trimmed of ``[\\s\\p{Z}]`` at both ends, then each format in order."""
    trimmed = r"nullif(regexp_replace(d, '^[\s\p{Z}]+|[\s\p{Z}]+$', '', 'g'), '')"
    attempts = ", ".join(f"CAST(try_strptime({trimmed}, '{fmt}') AS {target})" for fmt in formats)
    table = pa.table({"i": list(range(len(data))), "d": pa.array(data, pa.string())})
    with duckdb.connect() as con:
        con.register("t", table)
        result = con.sql(f"SELECT coalesce({attempts}) AS d FROM t ORDER BY i").to_arrow_table()
    return as_numbers(result.column("d"))


@pytest.mark.parametrize("target", ["date", "timestamp"])
@pytest.mark.parametrize("formats", FORMATS, ids=lambda f: "|".join(f))
def test_raw_first_equals_trimming_every_value(transform: Any, formats: list[str], target: str) -> None:
    data = values()
    out = transform(
        "parse_dates",
        {"columns": ["d"], "formats": formats, "target": target, "on_error": "null"},
        {"d": pa.array(data, pa.string())},
    )
    got = as_numbers(out.column("d"))
    expected = trimmed_first(data, formats, target.upper())
    differ = [(repr(v), g, e) for v, g, e in zip(data, got, expected, strict=True) if g != e]
    assert not differ, differ[:10]
    assert sum(value is not None for value in got) > len(data) // 10  # the grid parses, not only fails


def test_raw_first_fails_on_the_same_values(transform: Any) -> None:
    """on_error = fail: a value that only trimming could have parsed still parses; one no format
    matches still fails the step, with the same count."""
    formats = ["%Y-%m-%d"]
    good = ["\u00a02024-03-01", "2024-03-01\u3000", " \t2024-03-01\n", "\u2028 2024-03-01"]
    out = transform("parse_dates", {"columns": ["d"], "formats": formats}, {"d": good})
    assert as_numbers(out.column("d")) == trimmed_first(good, formats, "DATE")
    with pytest.raises(LogiDataTaskError, match=r"2 value\(s\) match none"):
        transform("parse_dates", {"columns": ["d"], "formats": formats}, {"d": [*good, "\u00a0x", "03/01"]})


@pytest.mark.parametrize("formats", [["%Y-%m-%d "], [" %Y-%m-%d"], ["%d/%m/%Y", "%Y-%m-%d\u00a0"]])
def test_formats_with_white_space_at_an_end_parse_trimmed_values_only(
    transform: Any, formats: list[str]
) -> None:
    data = [v for v in values() if v is None or v.strip() in ("2024-03-01", "01/03/2024", "")]
    out = transform(
        "parse_dates", {"columns": ["d"], "formats": formats, "on_error": "null"}, {"d": pa.array(data)}
    )
    assert as_numbers(out.column("d")) == trimmed_first(data, formats, "DATE")
