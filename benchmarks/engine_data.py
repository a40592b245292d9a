"""Input and pipeline definitions of the engine benchmark (``engine_bench.py``).

``write_messy_csv`` writes a deterministic (seeded) CSV of N rows x 10 columns that needs cleaning:

    id, customer, email, city, country, category, order_date, amount, quantity, status

- ``id``: order id; about 3 % of the rows are exact copies of another row of the same 500 k-row block,
  placed at a random later or earlier position;
- ``customer``, ``city``, ``status``: padded with spaces, runs of 1-3 spaces inside, mixed case
  (``"  jOHN   Smith "``); ``email``: mixed case;
- ``country``: two-letter code, 4 % empty; ``category``: 12 clean values;
- ``order_date``: ``%Y-%m-%d`` or ``%d/%m/%Y`` (half each, mixed throughout), 2 % empty;
- ``amount``: decimal text, 5 % empty; ``quantity``: integer text, 3 % empty.

Built with numpy and pyarrow compute in 500 k-row blocks (memory stays bounded) and written with
pyarrow's CSV writer, unquoted: about 85 bytes per row.

The cleaning chain every contender runs: deduplicate (all columns, keep the first) -> clean_text
(customer, email, city, status: trim, collapse spaces, lower case) -> parse_dates (order_date, both
formats, to DATE) -> fill_nulls (amount 0, quantity 0, country 'unknown'); CSV in, Parquet (zstd) out.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

SEED = 20_240_601
BLOCK_ROWS = 500_000
DUPLICATE_SHARE = 0.03

COLUMNS = (
    "id",
    "customer",
    "email",
    "city",
    "country",
    "category",
    "order_date",
    "amount",
    "quantity",
    "status",
)
TEXT_COLUMNS = ["customer", "email", "city", "status"]
DATE_COLUMN = "order_date"
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
FILLS: list[dict[str, Any]] = [
    {"column": "amount", "strategy": "constant", "value": 0},
    {"column": "quantity", "strategy": "constant", "value": 0},
    {"column": "country", "strategy": "constant", "value": "unknown"},
]

FIRST_NAMES = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "lisa",
    "daniel",
    "nancy",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
    "andrew",
    "donna",
    "joshua",
    "michelle",
    "kenneth",
    "carol",
    "kevin",
    "amanda",
    "brian",
    "dorothy",
    "george",
    "melissa",
    "timothy",
    "deborah",
    "ronald",
    "stephanie",
    "edward",
    "rebecca",
    "jason",
    "sharon",
    "jeffrey",
    "laura",
    "ryan",
    "cynthia",
    "jacob",
    "kathleen",
    "gary",
    "amy",
    "nicholas",
    "angela",
    "eric",
    "shirley",
    "jonathan",
    "anna",
    "stephen",
    "brenda",
    "larry",
    "pamela",
    "justin",
    "emma",
    "scott",
    "nicole",
    "brandon",
    "helen",
    "benjamin",
    "samantha",
    "samuel",
    "katherine",
    "gregory",
    "christine",
    "alexander",
    "debra",
    "frank",
    "rachel",
    "patrick",
    "carolyn",
    "raymond",
    "janet",
    "jack",
    "catherine",
]
LAST_NAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "chavez",
    "wood",
    "james",
    "bennett",
    "gray",
    "mendoza",
    "ruiz",
    "hughes",
    "price",
    "alvarez",
    "castillo",
    "sanders",
    "patel",
    "myers",
    "long",
    "ross",
    "foster",
    "jimenez",
]
CITIES = [
    "paris",
    "lyon",
    "berlin",
    "hamburg",
    "munich",
    "madrid",
    "barcelona",
    "rome",
    "milan",
    "vienna",
    "zurich",
    "geneva",
    "amsterdam",
    "rotterdam",
    "brussels",
    "antwerp",
    "lisbon",
    "porto",
    "dublin",
    "london",
    "manchester",
    "leeds",
    "glasgow",
    "edinburgh",
    "oslo",
    "stockholm",
    "gothenburg",
    "copenhagen",
    "helsinki",
    "warsaw",
    "krakow",
    "prague",
    "brno",
    "budapest",
    "bucharest",
    "sofia",
    "athens",
    "thessaloniki",
    "istanbul",
    "ankara",
    "tallinn",
    "riga",
    "vilnius",
    "ljubljana",
    "zagreb",
    "belgrade",
    "sarajevo",
    "skopje",
    "tirana",
    "new york",
    "los angeles",
    "san francisco",
    "rio de janeiro",
    "buenos aires",
    "hong kong",
]
COUNTRIES = [
    "FR",
    "DE",
    "ES",
    "IT",
    "AT",
    "CH",
    "NL",
    "BE",
    "PT",
    "IE",
    "GB",
    "NO",
    "SE",
    "DK",
    "FI",
    "PL",
    "CZ",
    "HU",
    "RO",
    "BG",
    "GR",
    "TR",
    "EE",
    "LV",
    "LT",
    "SI",
    "HR",
    "RS",
    "US",
    "BR",
]
CATEGORIES = [
    "electronics",
    "books",
    "clothing",
    "garden",
    "toys",
    "sports",
    "beauty",
    "grocery",
    "furniture",
    "automotive",
    "music",
    "health",
]
STATUSES = ["shipped", "pending", "cancelled", "returned", "delivered"]
DOMAINS = ["ex.com", "mail.io", "shop.eu", "post.net"]

DATE_FIRST_DAY = 16_436  # 2015-01-01 as days since 1970-01-01
DATE_DAYS = 4_018  # up to 2025-12-31
_TWO_DIGITS = [f"{value:02d}" for value in range(1, 32)]  # index 0 -> "01" (month or day number - 1)


def _case_variants(words: list[str]) -> list[str]:
    """Each word lower, UPPER, Title and one odd mix ("jOHN"), so cleaning has work to do."""
    out = []
    for word in words:
        odd = word[:1].lower() + word[1:].upper()
        out += [word, word.upper(), word.title(), odd]
    return out


def schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.int64()),
            ("customer", pa.string()),
            ("email", pa.string()),
            ("city", pa.string()),
            ("country", pa.string()),
            ("category", pa.string()),
            ("order_date", pa.string()),
            ("amount", pa.float64()),
            ("quantity", pa.int64()),
            ("status", pa.string()),
        ]
    )


def _block(rng: Any, first_id: int, base_rows: int) -> Any:
    """``base_rows`` distinct rows with ids ``first_id ..``; duplicates are added by the caller."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = base_rows

    def pick(pool: list[str], p: list[float] | None = None) -> pa.Array:
        return pa.array(pool).take(pa.array(rng.choice(len(pool), size=n, p=p)))

    def with_nulls(array: pa.Array, share: float) -> pa.Array:
        mask = pa.array(rng.random(n) < share)
        return pc.if_else(mask, pa.scalar(None, array.type), array)

    pads = ["", " ", "  ", "   "]
    pad_p = [0.55, 0.25, 0.15, 0.05]
    seps = [" ", "  ", "   "]
    sep_p = [0.7, 0.2, 0.1]
    firsts = _case_variants(FIRST_NAMES)
    lasts = _case_variants(LAST_NAMES)
    first_idx = rng.integers(0, len(firsts), n)
    last_idx = rng.integers(0, len(lasts), n)
    first = pa.array(firsts).take(pa.array(first_idx))
    last = pa.array(lasts).take(pa.array(last_idx))
    customer = pc.binary_join_element_wise(
        pick(pads, pad_p), first, pick(seps, sep_p), last, pick(pads, pad_p), ""
    )
    number = pc.cast(pa.array(rng.integers(1, 100, n)), pa.string())
    email = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(first, 0, 1), last, number, pa.scalar("@"), pick(DOMAINS), ""
    )
    city = pc.binary_join_element_wise(pick(pads, pad_p), pick(_case_variants(CITIES)), pick(pads, pad_p), "")
    status = pc.binary_join_element_wise(
        pick(pads, pad_p), pick(_case_variants(STATUSES)), pick(pads, pad_p), ""
    )
    # Calendar fields of random days, formatted by joining zero-padded pieces (pc.strftime is slow).
    days = (DATE_FIRST_DAY + rng.integers(0, DATE_DAYS, n)).astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    year = pa.array((years.astype(np.int64) + 1970).astype(str))
    month = pa.array(_TWO_DIGITS).take(pa.array(months.astype(np.int64) % 12))
    day = pa.array(_TWO_DIGITS).take(pa.array((days - months).astype(np.int64)))
    iso = pc.binary_join_element_wise(year, month, day, "-")
    dmy = pc.binary_join_element_wise(day, month, year, "/")
    order_date = pc.if_else(pa.array(rng.random(n) < 0.5), iso, dmy)
    amount = pa.array(np.round(rng.gamma(2.0, 40.0, n), 2))
    quantity = pa.array(rng.integers(1, 21, n))
    return pa.table(
        {
            "id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            "customer": customer,
            "email": email,
            "city": city,
            "country": with_nulls(pick(COUNTRIES), 0.04),
            "category": pick(CATEGORIES),
            "order_date": with_nulls(order_date, 0.02),
            "amount": with_nulls(amount, 0.05),
            "quantity": with_nulls(quantity, 0.03),
            "status": status,
        },
        schema=schema(),
    )


def write_messy_csv(
    path: Path, rows: int, *, seed: int = SEED, resume: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write the benchmark CSV; returns ``{"rows", "bytes", "duplicates", ...}`` plus what ``resume`` needs.

    ``resume`` is the result of an earlier call with the same seed whose row count is a multiple of
    ``BLOCK_ROWS``: its file is copied and generation continues from its random state, so the bigger file
    equals what one call would have written, at the cost of the new rows only.
    """
    import shutil

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = duplicates = 0
    next_id = 1
    usable = (
        resume is not None
        and resume["seed"] == seed
        and resume["rows"] % BLOCK_ROWS == 0
        and resume["rows"] <= rows
        and Path(resume["path"]).is_file()
    )
    if usable:
        assert resume is not None
        shutil.copyfile(resume["path"], path)
        rng.bit_generator.state = resume["state"]
        done, duplicates, next_id = resume["rows"], resume["duplicates"], resume["next_id"]
    options = pacsv.WriteOptions(include_header=not usable, quoting_style="none", batch_size=65_536)
    with (
        pa.OSFile(str(path), "ab" if usable else "wb") as sink,
        pacsv.CSVWriter(sink, schema(), write_options=options) as writer,
    ):
        for start in range(done, rows, BLOCK_ROWS):
            n = min(BLOCK_ROWS, rows - start)
            dup = round(n * DUPLICATE_SHARE)
            base = n - dup
            table = _block(rng, next_id, base)
            next_id += base
            sources = rng.integers(0, base, dup)
            positions = rng.integers(0, base + 1, dup)
            order = np.insert(np.arange(base), positions, sources)
            writer.write_table(table.take(pa.array(order)))
            duplicates += dup
    return {
        "path": str(path),
        "rows": rows,
        "bytes": path.stat().st_size,
        "duplicates": duplicates,
        "seed": seed,
        "next_id": next_id,
        "state": rng.bit_generator.state,
    }


# --- the chain, as LogiData node configs -----------------------------------------------------------


def chain_nodes() -> list[tuple[str, str, dict[str, Any]]]:
    """(node_id, module, config) of the four transforms, in order."""
    return [
        ("dedupe", "deduplicate", {"keep": "first"}),
        (
            "clean_names",
            "clean_text",
            {"columns": TEXT_COLUMNS, "trim": True, "collapse_spaces": True, "case": "lower"},
        ),
        (
            "parse_order_date",
            "parse_dates",
            {"columns": [DATE_COLUMN], "formats": DATE_FORMATS, "target": "date"},
        ),
        ("fill_missing", "fill_nulls", {"fills": FILLS}),
    ]


def source_config(csv_path: str) -> dict[str, Any]:
    return {"path": csv_path, "format": "csv"}


def destination_config(parquet_path: str) -> dict[str, Any]:
    return {"path": parquet_path, "format": "parquet", "compression": "zstd"}


def pipeline(pipeline_id: str, csv_path: str, parquet_path: str, *, fuse: bool | str) -> dict[str, Any]:
    """The six-node pipeline document: source.file -> the four transforms -> destination.file.

    ``fuse``: a bool sets ``fuse_chains`` (the older field), a string (``none``, ``chains``, ``paths``)
    sets ``fuse``."""
    chain: list[tuple[str, str, dict[str, Any]]] = [
        ("read_orders", "source.file", source_config(csv_path)),
        *chain_nodes(),
        ("write_orders", "destination.file", destination_config(parquet_path)),
    ]
    return {
        "spec_version": 1,
        "id": pipeline_id,
        "name": f"Engine benchmark (fuse {fuse})",
        "description": "Generated by benchmarks/engine_data.py.",
        "owner": "bench",
        "tags": ["benchmark"],
        "schedule": None,
        "start_date": "2024-01-01",
        "catchup": False,
        "retries": 0,
        "status": "active",
        **({"fuse": fuse} if isinstance(fuse, str) else {"fuse_chains": fuse}),
        "nodes": [
            {"id": node_id, "module": module, "config": config, "position": {"x": 240 * pos, "y": 0}}
            for pos, (node_id, module, config) in enumerate(chain)
        ],
        "edges": [{"source": a[0], "target": b[0]} for a, b in itertools.pairwise(chain)],
    }
