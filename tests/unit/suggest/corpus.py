"""A seeded corpus of order tables: a clean base and defects injected at several strengths.

Each ``Case`` knows the rule that must find its defect and the column(s) it must name. Loaded by the
tests with ``sys.path`` (tests/ is no package): ``from corpus import CASES, CONTROLS``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

CITIES = [
    "Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Strasbourg", "Nantes", "Montpellier",
    "Rennes", "Grenoble", "Dijon", "Angers", "Brest", "Limoges", "Amiens",
]  # fmt: skip
STATUSES = ["shipped", "pending", "cancelled", "returned"]
ROWS = 2000


def base_rows(seed: int, rows: int = ROWS) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    out = []
    for i in range(rows):
        out.append(
            {
                "order_id": 100_000 + i,
                "customer_id": rng.randint(1, 400),
                "city": rng.choice(CITIES),
                "status": rng.choices(STATUSES, weights=[70, 15, 10, 5])[0],
                "amount": round(rng.lognormvariate(3.5, 0.5), 2),
                "quantity": rng.randint(1, 20),
                "order_date": start + dt.timedelta(days=rng.randint(0, 364)),
            }
        )
    return out


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def customers(seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "id": list(range(1, 401)),
            "customer_name": [f"Customer {i}" for i in range(1, 401)],
            "segment": [rng.choice(["retail", "pro"]) for _ in range(400)],
        }
    )


def _pick(rng: random.Random, rows: list[dict[str, Any]], share: float) -> list[int]:
    return rng.sample(range(len(rows)), max(1, round(share * len(rows))))


# --- defects: (rows, share, rng) -> rows ---------------------------------------------------------------


def exact_duplicates(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    return rows + [dict(rows[i]) for i in _pick(rng, rows, share)]


def key_duplicates(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    extra = []
    for i in _pick(rng, rows, share):
        copy = dict(rows[i])
        copy["amount"] = round(copy["amount"] + 1.0, 2)
        extra.append(copy)
    return rows + extra


def padded(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    for i in _pick(rng, rows, share):
        rows[i]["city"] = rng.choice(["  ", " ", "\t"]) + rows[i]["city"] + rng.choice([" ", "  ", ""])
    return rows


def case(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    for i in _pick(rng, rows, share):
        rows[i]["status"] = rng.choice([str.upper, str.title])(rows[i]["status"])
    return rows


def typos(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    for i in _pick(rng, rows, share):
        city = rows[i]["city"]
        if len(city) < 6:
            continue
        cut = rng.randrange(1, len(city))
        rows[i]["city"] = city[:cut] + city[cut + 1 :]
    return rows


def accents(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """Punctuation and accent variants caught by the fingerprint: 'Saint-Étienne' vs 'Saint Etienne'."""
    for row in rows:
        if row["city"] == "Amiens":
            row["city"] = "Saint-Étienne"
    for i in _pick(rng, rows, share):
        if rows[i]["city"] == "Saint-Étienne":
            rows[i]["city"] = rng.choice(["Saint Etienne", "saint-etienne", "Saint Étienne"])
    return rows


def numbers_as_text(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    bad = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        row["amount"] = "n/a" if i in bad else f"{row['amount']:.2f}"
    return rows


def integers_as_text(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """``share`` of the values are missing: casting must keep every present one."""
    missing = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        row["quantity"] = None if i in missing else str(row["quantity"])
    return rows


def dates_as_text(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    bad = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        row["order_date"] = "unknown" if i in bad else row["order_date"].strftime("%d/%m/%Y")
    return rows


def mixed_dates(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    iso = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        row["order_date"] = row["order_date"].strftime("%Y-%m-%d" if i in iso else "%d.%m.%Y")
    return rows


def timestamps_as_text(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """``share`` of the values are the junk marker 'unknown'."""
    bad = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        row["order_date"] = (
            "unknown"
            if i in bad
            else f"{row['order_date'].isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
        )
    return rows


def zoned_timestamps(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """ISO timestamps with an offset (+01:00, -05:00): ``share`` of them written with Z instead."""
    utc = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        stamp = f"{row['order_date'].isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
        row["order_date"] = stamp + ("Z" if i in utc else rng.choice(["+01:00", "+02:00", "-05:00"]))
    return rows


def tail_numbers(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """A code column with more distinct values than half its rows (aircraft tail numbers, N123AB);
    ``share`` of them written in lower case."""
    lower = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        code = f"N{rng.randint(100, 999)}{rng.choice(['AA', 'UA', 'DL', 'JB', 'WN'])}"
        row["tailnum"] = code.lower() if i in lower else code
    return rows


def negative_quantities(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    for i in _pick(rng, rows, share):
        rows[i]["quantity"] = -rows[i]["quantity"]
    return rows


def nulls_in(column: str) -> Callable[[list[dict[str, Any]], float, random.Random], list[dict[str, Any]]]:
    def inject(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
        for i in _pick(rng, rows, share):
            rows[i][column] = None
        return rows

    return inject


def constant(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """A constant text column; with ``share`` also a constant number column (two at once)."""
    for row in rows:
        row["channel"] = "web"
        if share:
            row["version"] = 3
    return rows


def empty(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """``share`` of the rows hold blank text ('' or white space), the others no value at all."""
    blank = set(_pick(rng, rows, share)) if share else set()
    for i, row in enumerate(rows):
        row["comment"] = rng.choice(["", " ", "  \t"]) if i in blank else None
    return rows


WORDS = ["leave", "door", "ring", "twice", "fragile", "call", "before", "gate", "code", "back", "office"]


def free_text_nulls(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """A free-text column (almost every value distinct) with ``share`` of it missing."""
    missing = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        row["note"] = None if i in missing else " ".join(rng.choices(WORDS, k=5)).capitalize()
    return rows


def ngram_variants(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """'New York' / 'NewYork' / 'new york': only the 2-gram fingerprint joins 'NewYork' (no token split),
    and at these shares 'NewYork' is too frequent for the nearest-neighbour pass (see cluster.RARER)."""
    for row in rows:
        if row["city"] == "Amiens":
            row["city"] = "New York"
    for row in rows:
        if row["city"] == "New York":
            roll = rng.random()
            row["city"] = "NewYork" if roll < share else "new york" if roll < share + 0.05 else "New York"
    return rows


def mostly_null(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    kept = set(_pick(rng, rows, 1 - share))
    for i, row in enumerate(rows):
        row["coupon"] = f"C{i}" if i in kept else None
    return rows


def outliers_in(
    column: str, factor: float
) -> Callable[[list[dict[str, Any]], float, random.Random], list[dict[str, Any]]]:
    def inject(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
        for i in _pick(rng, rows, share):
            value = rows[i][column] * factor
            rows[i][column] = round(value, 2) if isinstance(value, float) else int(value)
        return rows

    return inject


def emails(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    with_mail = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        row["contact"] = f"user{i}.{rng.randint(1, 99)}@example{i % 7}.com" if i in with_mail else None
    return rows


def phones(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    with_phone = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        digits = [rng.randint(0, 9) for _ in range(8)]
        row["contact"] = (
            ("+33 6 " + " ".join(f"{digits[k]}{digits[k + 1]}" for k in range(0, 8, 2)))
            if i in with_phone
            else None
        )
    return rows


def _iban(rng: random.Random) -> str:
    bban = "".join(str(rng.randint(0, 9)) for _ in range(23))
    moved = bban + "FR00"
    number = int("".join(str(int(ch, 36)) for ch in moved))
    check = 98 - number % 97
    return f"FR{check:02d}{bban}"


def ibans(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    with_iban = set(_pick(rng, rows, share))
    for i, row in enumerate(rows):
        row["account"] = _iban(rng) if i in with_iban else None
    return rows


MESSY = {"order_id": "Order ID", "customer_id": "customerId", "amount": " Amount ($)"}
ALL_MESSY = MESSY | {"city": "City", "status": "STATUS", "quantity": "Quantity.", "order_date": "Order-Date"}


def messy_names(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    """Three messy names; with ``share`` every column name is messy."""
    renames = ALL_MESSY if share else MESSY
    return [{renames.get(k, k): v for k, v in row.items()} for row in rows]


def one_messy_name(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    return [{("Status" if k == "status" else k): v for k, v in row.items()} for row in rows]


def key_nulls(rows: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    for i in _pick(rng, rows, share):
        rows[i]["order_id"] = None
    return rows


@dataclass(frozen=True)
class Expect:
    """Which fix the suggestion must propose, not only that its rule fired.

    ``config``: config keys of the last proposed node that matter, compared exactly. ``casts`` and
    ``renames`` (select_columns): per column; ``dropped``: columns select_columns must leave out.
    ``no_new_nulls``: columns that, after applying, gain no nulls beyond the injected junk markers (a wrong
    cast or date format nulls the values). ``methods``: exactly how the variants were found.
    """

    module: str
    config: dict[str, Any] = field(default_factory=dict)
    casts: dict[str, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    no_new_nulls: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()


def fill(column: str, strategy: str, **extra: Any) -> Expect:
    return Expect("fill_nulls", {"fills": [{"column": column, "strategy": strategy, **extra}]})


def drop_rows(column: str) -> Expect:
    return Expect("filter_rows", {"condition": f'"{column}" IS NOT NULL'})


def drop_columns(*columns: str) -> Expect:
    return Expect("select_columns", dropped=columns)


def parse(column: str, formats: list[str], target: str = "date") -> Expect:
    return Expect(
        "parse_dates", {"columns": [column], "formats": formats, "target": target}, no_new_nulls=(column,)
    )


def cast(column: str, to: str) -> Expect:
    return Expect("select_columns", casts={column: to}, no_new_nulls=(column,))


@dataclass
class Case:
    name: str
    rule: str
    columns: list[str]
    inject: Callable[[list[dict[str, Any]], float, random.Random], list[dict[str, Any]]]
    share: float
    seed: int = 7
    other_sources: dict[str, pa.Table] = field(default_factory=dict)
    downstream_keys: dict[str, list[str]] = field(default_factory=dict)
    expect: Expect | None = None

    def build(self) -> pa.Table:
        rng = random.Random(self.seed * 1000 + int(self.share * 1000))
        return table(self.inject(base_rows(self.seed), self.share, rng))


STRENGTHS = (0.01, 0.05, 0.3)
CITY_VARIANTS = Expect("map_values", {"column": "city", "default": "keep"})
CASES: list[Case] = []
for share in STRENGTHS:
    CASES += [
        Case("exact_duplicates", "exact_duplicates", [], exact_duplicates, share),
        Case("key_duplicates", "key_duplicates", ["order_id"], key_duplicates, share),
        Case("padded_text", "padded_text", ["city"], padded, share),
        Case("inconsistent_case", "inconsistent_case", ["status"], case, share),
        Case("typos", "spelling_variants", ["city"], typos, share, expect=CITY_VARIANTS),
        Case("accents", "spelling_variants", ["city"], accents, share, expect=CITY_VARIANTS),
        # nulls.py: numbers → median, few-valued text → mode, free text → a visible constant,
        # a key → drop the rows (never invented), whatever the share up to DROP_SHARE.
        Case(
            "nulls_numeric", "nulls", ["amount"], nulls_in("amount"), share, expect=fill("amount", "median")
        ),
        Case("nulls_text", "nulls", ["city"], nulls_in("city"), share, expect=fill("city", "mode")),
        Case(
            "nulls_free_text",
            "nulls",
            ["note"],
            free_text_nulls,
            share,
            expect=fill("note", "constant", value="unknown"),
        ),
        Case("nulls_key", "nulls", ["order_id"], key_nulls, share, expect=drop_rows("order_id")),
        Case(
            "mixed_dates",
            "dates_as_text",
            ["order_date"],
            mixed_dates,
            share,
            expect=parse("order_date", ["%d.%m.%Y", "%Y-%m-%d"]),
        ),
    ]
for share in (0.01, 0.05):  # dates: dropped only when few (nulls.FEW), never invented
    CASES.append(
        Case(
            "nulls_date",
            "nulls",
            ["order_date"],
            nulls_in("order_date"),
            share,
            expect=drop_rows("order_date"),
        )
    )
for share in (0.0, 0.01, 0.05):
    CASES += [
        Case(
            "numbers_as_text",
            "numbers_as_text",
            ["amount"],
            numbers_as_text,
            share,
            expect=cast("amount", "decimal"),
        ),
        # Day-first with days above 12: only %d/%m/%Y reads every value (%m/%d/%Y would null them).
        Case(
            "dates_as_text",
            "dates_as_text",
            ["order_date"],
            dates_as_text,
            share,
            expect=parse("order_date", ["%d/%m/%Y"]),
        ),
    ]
for share in (0.0, 0.05):
    CASES += [
        Case(
            "integers_as_text",
            "numbers_as_text",
            ["quantity"],
            integers_as_text,
            share,
            expect=cast("quantity", "integer"),
        ),
        Case(
            "timestamps_as_text",
            "dates_as_text",
            ["order_date"],
            timestamps_as_text,
            share,
            expect=parse("order_date", ["%Y-%m-%dT%H:%M:%S"], "timestamp"),
        ),
    ]
for share in (0.0, 0.3):
    CASES.append(
        Case(
            "zoned_timestamps",
            "dates_as_text",
            ["order_date"],
            zoned_timestamps,
            share,
            expect=parse(
                "order_date",
                ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"] if share else ["%Y-%m-%dT%H:%M:%S%z"],
                "timestamp",
            ),
        )
    )
for share in (0.02, 0.1):  # more distinct codes than half the rows: not a category
    CASES.append(
        Case(
            "code_case",
            "inconsistent_case",
            ["tailnum"],
            tail_numbers,
            share,
            expect=Expect("clean_text", {"columns": ["tailnum"], "case": "upper"}),
        )
    )
for share in (0.005, 0.015):  # below outliers.IMPOSSIBLE_MAX_SHARE
    CASES.append(
        Case(
            "negative_quantity",
            "impossible_values",
            ["quantity"],
            negative_quantities,
            share,
            expect=Expect("filter_rows", {"condition": '"quantity" IS NULL OR "quantity" >= 0'}),
        )
    )
for share in (0.4, 0.45):
    CASES.append(
        Case(
            "ngram_variants",
            "spelling_variants",
            ["city"],
            ngram_variants,
            share,
            expect=Expect(
                "map_values",
                {
                    "column": "city",
                    # Case-only variants of the target's own form ("new york") are left to
                    # inconsistent_case (clean_text), so the mapping holds the other form only.
                    "mapping": {"NewYork": "New York"},
                    "default": "keep",
                },
                methods=("2-gram fingerprint",),
            ),
        )
    )
for share in (0.005, 0.02, 0.1):
    CASES += [
        Case("outliers_skewed", "outliers", ["amount"], outliers_in("amount", 1000.0), share),
        Case("outliers_uniform", "outliers", ["quantity"], outliers_in("quantity", 50), share),
    ]
for share in (0.6, 0.9, 1.0):
    CASES += [
        Case("emails", "personal_data", ["contact"], emails, share),
        Case("phones", "personal_data", ["contact"], phones, share),
        Case("ibans", "personal_data", ["account"], ibans, share),
    ]
for share in (0.7, 0.9):  # above nulls.DROP_SHARE: drop the column, not the rows
    CASES.append(
        Case("mostly_null", "mostly_null", ["coupon"], mostly_null, share, expect=drop_columns("coupon"))
    )
for share in (0.01, 0.05, 0.3):
    CASES.append(
        Case(
            "destination_keys_dirty",
            "destination_keys",
            ["order_id"],
            key_duplicates,
            share,
            downstream_keys={"load": ["order_id"]},
        )
    )
CASES += [
    Case("constant_column", "constant_columns", ["channel"], constant, 0.0, expect=drop_columns("channel")),
    Case(
        "constant_columns_two",
        "constant_columns",
        ["channel", "version"],
        constant,
        1.0,
        expect=drop_columns("channel", "version"),
    ),
    Case("empty_column_nulls", "empty_columns", ["comment"], empty, 0.0, expect=drop_columns("comment")),
    Case("empty_column_mixed", "empty_columns", ["comment"], empty, 0.5, expect=drop_columns("comment")),
    Case("empty_column_blank", "empty_columns", ["comment"], empty, 1.0, expect=drop_columns("comment")),
    Case(
        "messy_names",
        "messy_names",
        [" Amount ($)", "Order ID", "customerId"],
        messy_names,
        0.0,
        expect=Expect(
            "select_columns",
            renames={" Amount ($)": "amount", "Order ID": "order_id", "customerId": "customer_id"},
        ),
    ),
    Case(
        "messy_names_all",
        "messy_names",
        sorted(ALL_MESSY.values()),
        messy_names,
        1.0,
        expect=Expect("select_columns", renames={v: k for k, v in ALL_MESSY.items()}),
    ),
    Case("messy_name_one", "messy_names", ["Status"], one_messy_name, 0.0),
    Case(
        "join_partial_overlap",
        "join_key",
        ["customer_id"],
        lambda r, s, g: r,
        0.0,
        other_sources={"customers": customers(3).slice(0, 150)},
    ),
    Case(
        "join_same_name",
        "join_key",
        ["customer_id"],
        lambda r, s, g: r,
        0.0,
        other_sources={"customers": customers(3).rename_columns(["customer_id", "customer_name", "segment"])},
    ),
    Case(
        "join_id",
        "join_key",
        ["customer_id"],
        lambda r, s, g: r,
        0.0,
        other_sources={"customers": customers(3)},
    ),
    Case(
        "destination_keys_clean",
        "destination_keys",
        ["order_id"],
        lambda r, s, g: r,
        0.0,
        downstream_keys={"load": ["order_id"]},
    ),
]


def sensors(seed: int, rows: int = ROWS) -> pa.Table:
    rng = random.Random(seed)
    start = dt.datetime(2024, 3, 1)
    return pa.table(
        {
            "reading_id": list(range(rows)),
            "sensor": [rng.choice(["north_hall", "south_hall", "roof", "basement"]) for _ in range(rows)],
            "measured_at": [start + dt.timedelta(minutes=5 * i) for i in range(rows)],
            "temperature": [round(rng.gauss(21.0, 2.5), 2) for _ in range(rows)],
            "humidity": [round(rng.uniform(30, 60), 1) for _ in range(rows)],
        }
    )


CONTROLS: dict[str, Callable[[], pa.Table]] = {
    "orders_seed_1": lambda: table(base_rows(1)),
    "orders_seed_2": lambda: table(base_rows(2)),
    "orders_10k": lambda: table(base_rows(5, 10_000)),
    "sensors": lambda: sensors(4),
}
