"""The type contract of a PostgreSQL load (``engine.pg_types``, ``engine.pg_type_info``), pure: no database.

Why table-driven: ETL and ELT both ask ``classify`` about every (input type, column type) pair, so one
wrong row here is a value silently changed on both paths. Each row states the pair's kind, the type
``evolve`` widens the column to (``None``: it refuses) and whether the load checks the actual values in SQL.
The SQL the rules produce is run against a real PostgreSQL by tests/integration/test_type_contract_e2e.py.
"""

from __future__ import annotations

import pytest

from airflow_provider_logidata.engine import pg_type_info, pg_types
from airflow_provider_logidata.engine.pg_type_info import PgType, parse_type
from airflow_provider_logidata.engine.pg_types import classify

# --- parse_type ---------------------------------------------------------------------------------------

PARSED = [
    # (as format_type / psycopg / pg_type_for writes it, base, mods, fields, family)
    ("smallint", "int2", (), "", "int"),
    ("integer", "int4", (), "", "int"),
    ("int", "int4", (), "", "int"),
    ("BIGINT", "int8", (), "", "int"),
    ("int8", "int8", (), "", "int"),
    ("numeric", "numeric", (), "", "numeric"),
    ("decimal", "numeric", (), "", "numeric"),
    ("numeric(10,2)", "numeric", (10, 2), "", "numeric"),
    ("numeric( 10 , 2 )", "numeric", (10, 2), "", "numeric"),
    ("numeric(5)", "numeric", (5, 0), "", "numeric"),  # numeric(p) is numeric(p,0)
    ("numeric(5,-2)", "numeric", (5, -2), "", "numeric"),  # negative scale (PostgreSQL 15)
    ("real", "float4", (), "", "float"),
    ("double precision", "float8", (), "", "float"),
    ("float8", "float8", (), "", "float"),
    ("boolean", "bool", (), "", "bool"),
    ("text", "text", (), "", "text"),
    ("character varying", "varchar", (), "", "text"),
    ("character varying(5)", "varchar", (5,), "", "text"),
    ("varchar(5)", "varchar", (5,), "", "text"),
    ("character(3)", "bpchar", (3,), "", "text"),
    ("bpchar", "bpchar", (), "", "text"),
    ("date", "date", (), "", "datetime"),
    ("timestamp without time zone", "timestamp", (), "", "datetime"),
    ("timestamp(0) without time zone", "timestamp", (0,), "", "datetime"),
    ("timestamp(3) with time zone", "timestamptz", (3,), "", "datetime"),
    ("timestamptz", "timestamptz", (), "", "datetime"),
    ("time without time zone", "time", (), "", "time"),
    ("time(2) with time zone", "timetz", (2,), "", "time"),
    ("interval", "interval", (), "", "interval"),
    ("interval(3)", "interval", (3,), "", "interval"),
    ("interval day to second(0)", "interval", (0,), "day to second", "interval"),
    ("interval year", "interval", (), "year", "interval"),
    ("json", "json", (), "", "json"),
    ("jsonb", "jsonb", (), "", "json"),
    ("bytea", "bytea", (), "", "bytea"),
    # Types not known here keep their text and belong to no family.
    ("uuid", "uuid", (), "", "other"),
    ("integer[]", "integer[]", (), "", "other"),
    ('"MyEnum"', '"MyEnum"', (), "", "other"),
    ("public.mood", "public.mood", (), "", "other"),
    ("bit varying(5)", "bit varying(5)", (), "", "other"),
]


@pytest.mark.parametrize(("text", "base", "mods", "fields", "family"), PARSED, ids=[p[0] for p in PARSED])
def test_parse_type(text: str, base: str, mods: tuple[int, ...], fields: str, family: str) -> None:
    parsed = parse_type(text)
    assert (parsed.base, parsed.mods, parsed.fields, parsed.family) == (base, mods, fields, family)
    assert parsed.sql == text  # usable in CAST and DDL exactly as it was written


def test_parsed_type_properties() -> None:
    assert parse_type("timestamp without time zone").precision == pg_type_info.DEFAULT_PRECISION
    assert parse_type("timestamp(3) without time zone").precision == 3
    assert parse_type("numeric(10,2)").unconstrained == "numeric"
    assert parse_type("timestamp(0) with time zone").unconstrained == "timestamp with time zone"
    assert parse_type("character varying(5)").unconstrained == "character varying(5)"  # no canonical name
    assert parse_type("integer").category == "N" and parse_type("text").category == "S"
    assert parse_type("uuid").category is None
    # Two spellings of one type are the same type: the pair is "same", nothing to convert or check.
    assert parse_type("int4").key == parse_type("integer").key
    assert parse_type("numeric(5)").key == parse_type("numeric(5,0)").key
    assert isinstance(parse_type("integer"), PgType)


# --- classify: every family pair ----------------------------------------------------------------------

INT2, INT4, INT8 = "smallint", "integer", "bigint"
NUM, NUM10_2, NUM5_0, NUM38_9 = "numeric", "numeric(10,2)", "numeric(5,0)", "numeric(38,9)"
REAL, DOUBLE, BOOL = "real", "double precision", "boolean"
TEXT, VC5, VC10, CH5 = "text", "character varying(5)", "character varying(10)", "character(5)"
DATE, TS, TS0, TS3, TSTZ = (
    "date",
    "timestamp without time zone",
    "timestamp(0) without time zone",
    "timestamp(3) without time zone",
    "timestamp with time zone",
)
TIME, TIMETZ, TIME0 = "time without time zone", "time with time zone", "time(0) without time zone"
IVL, IVL_DS0 = "interval", "interval day to second(0)"
JSON, JSONB, BYTEA, UUID = "json", "jsonb", "bytea", "uuid"

# (input type, column type, kind, the type evolve widens the column to, whether values are checked)
PAIRS = [
    # integers: wider is safe, narrower checks the range and widens to the input's type
    (INT2, INT4, "safe", None, False),
    (INT2, INT8, "safe", None, False),
    (INT4, INT8, "safe", None, False),
    (INT4, INT2, "lossy", "integer", True),
    (INT8, INT4, "lossy", "bigint", True),
    (INT8, INT2, "lossy", "bigint", True),
    (INT4, INT4, "same", None, False),
    ("int4", INT4, "same", None, False),
    # integers into numeric and floats
    (INT8, NUM, "safe", None, False),
    (INT2, NUM10_2, "safe", None, False),  # 8 integer digits hold any smallint
    (INT4, NUM10_2, "lossy", "numeric", True),
    (INT4, NUM5_0, "lossy", "numeric", True),
    (INT4, "numeric(12,2)", "safe", None, False),
    (INT2, REAL, "safe", None, False),  # every smallint is exact in a float4
    (INT4, REAL, "lossy", "double precision", True),
    (INT4, DOUBLE, "safe", None, False),
    (INT8, DOUBLE, "lossy", None, True),  # no type keeps both bigints and doubles exactly
    # numeric and floats into integers: fractions round, large values do not fit (the case)
    (NUM, INT4, "lossy", "numeric", True),
    (NUM38_9, INT4, "lossy", "numeric", True),
    (NUM10_2, INT2, "lossy", "numeric", True),
    (NUM5_0, INT8, "lossy", "numeric", True),
    (DOUBLE, INT4, "lossy", "double precision", True),
    (DOUBLE, INT2, "lossy", "double precision", True),
    (DOUBLE, INT8, "lossy", None, True),
    (REAL, INT4, "lossy", "double precision", True),
    (REAL, INT8, "lossy", None, True),
    # numeric precision and scale
    (NUM10_2, NUM, "safe", None, False),
    (NUM10_2, NUM10_2, "same", None, False),
    (NUM5_0, NUM10_2, "safe", None, False),  # 8 integer digits >= 5, scale 2 >= 0
    ("numeric(10,4)", NUM10_2, "lossy", "numeric", True),  # scale 4 into 2
    ("numeric(12,2)", NUM10_2, "lossy", "numeric", True),  # 10 integer digits into 8
    (NUM, NUM10_2, "lossy", "numeric", True),
    (NUM38_9, NUM5_0, "lossy", "numeric", True),
    ("numeric(5,-2)", NUM10_2, "lossy", "numeric", True),  # a negative scale is not proven here
    # floats and numeric across each other
    (REAL, DOUBLE, "safe", None, False),
    (DOUBLE, REAL, "lossy", "double precision", True),
    (NUM10_2, REAL, "lossy", "double precision", True),
    (NUM10_2, DOUBLE, "lossy", None, True),
    (DOUBLE, NUM, "lossy", None, True),  # PostgreSQL keeps 15 significant digits
    (DOUBLE, NUM10_2, "lossy", "numeric", True),
    (REAL, NUM5_0, "lossy", "numeric", True),
    # texts
    (VC5, TEXT, "safe", None, False),
    (CH5, TEXT, "safe", None, False),
    (TEXT, VC5, "lossy", "text", True),
    (VC10, VC5, "lossy", "text", True),
    (VC5, VC10, "safe", None, False),
    (VC5, VC5, "same", None, False),
    (VC5, CH5, "safe", None, False),
    (CH5, VC5, "safe", None, False),
    (TEXT, CH5, "lossy", "text", True),
    ("character varying", VC5, "lossy", "text", True),  # unbounded varchar
    (TEXT, "character varying", "safe", None, False),
    # dates and timestamps
    (DATE, TS, "safe", None, False),
    (DATE, TS0, "safe", None, False),
    (DATE, TSTZ, "safe", None, False),
    (TS, DATE, "lossy", TS, True),
    (TS3, DATE, "lossy", TS, True),
    (TSTZ, DATE, "lossy", TSTZ, True),
    (TS, TSTZ, "safe", None, False),  # naive values read as UTC (the load's session is UTC)
    (TSTZ, TS, "lossy", TSTZ, True),  # every value would lose its zone
    (TSTZ, TS0, "lossy", TSTZ, True),
    (TS, TS0, "lossy", TS, True),
    (TS, TS3, "lossy", TS, True),
    (TS3, TS, "safe", None, False),
    (TS0, TS3, "safe", None, False),
    ("timestamp(6) without time zone", TS, "safe", None, False),  # the default precision, written out
    ("timestamp(3) with time zone", TSTZ, "safe", None, False),
    (TSTZ, "timestamp(0) with time zone", "lossy", TSTZ, True),
    # times and intervals
    (TIME, TIME0, "lossy", TIME, True),
    (TIME0, TIME, "safe", None, False),
    (TIME, TIMETZ, "lossy", None, True),
    (TIMETZ, TIME, "lossy", None, True),
    (IVL, IVL_DS0, "lossy", IVL, True),
    (IVL_DS0, IVL, "safe", None, False),
    (IVL, "interval year", "lossy", IVL, True),
    # json, bytea, bool
    (JSON, JSONB, "safe", None, False),
    (JSONB, JSON, "safe", None, False),
    (JSONB, TEXT, "safe", None, False),
    (JSON, VC5, "lossy", "text", True),
    (JSONB, CH5, "lossy", "text", True),
    (BYTEA, BYTEA, "same", None, False),
    (BOOL, BOOL, "same", None, False),
    # text read by the column type's input function, as COPY reads it
    (TEXT, INT4, "category", None, False),
    (TEXT, NUM, "category", None, False),
    (TEXT, DOUBLE, "category", None, False),
    (TEXT, BOOL, "category", None, False),
    (TEXT, TS, "category", None, False),
    (TEXT, TSTZ, "category", None, False),
    (TEXT, TIME, "category", None, False),
    (VC5, INT8, "category", None, False),
    (CH5, BOOL, "category", None, False),
    # ... unless the column's modifier rounds what it reads ('12.7' into numeric(10,0) would be 13)
    (TEXT, NUM10_2, "category", NUM, True),
    (TEXT, NUM5_0, "category", NUM, True),
    (TEXT, TS0, "category", TS, True),
    (VC10, TS3, "category", TS, True),
    (TEXT, TIME0, "category", TIME, True),
    # ... or drops the time of day ('2024-01-05 10:30' into a date would be 2024-01-05)
    (TEXT, DATE, "category", TS, True),
    (VC10, DATE, "category", TS, True),
    (TEXT, IVL, "parse", None, False),
    # ... checked where the interval column's fields or precision would cut it ('1 year 2 mons' -> 1 year)
    (TEXT, IVL_DS0, "parse", IVL, True),
    (TEXT, "interval year", "parse", IVL, True),
    (TEXT, JSON, "parse", None, False),
    (TEXT, JSONB, "parse", None, False),
    (TEXT, BYTEA, "parse", None, False),
    (TEXT, UUID, "parse", None, False),  # a type not known here reads text too
    (VC5, UUID, "parse", None, False),
    # other kinds of values: converted through their text, a value whose text would change is refused
    (INT4, TEXT, "category", None, False),  # any number has a text: nothing to check
    (DOUBLE, TEXT, "category", None, False),
    (NUM10_2, TEXT, "category", None, False),
    (BOOL, TEXT, "category", None, False),
    (DATE, TEXT, "category", None, False),
    (TSTZ, TEXT, "category", None, False),
    (TIME, TEXT, "category", None, False),
    (IVL, TEXT, "category", None, False),
    (BYTEA, TEXT, "category", None, False),
    (UUID, TEXT, "category", None, False),
    (INT4, VC5, "category", "text", True),  # 123456 would be cut to 12345
    (NUM10_2, CH5, "category", "text", True),
    (DATE, VC5, "category", "text", True),
    (INT4, BOOL, "category", None, True),  # 5 is no boolean; 1 would read back as true
    (BOOL, INT4, "category", None, True),
    (INT8, DATE, "category", None, True),
    (DOUBLE, TS, "category", None, True),
    (DATE, INT4, "category", None, True),
    (TS, TIME, "category", None, True),
    (TIME, TS, "category", None, True),
    (IVL, INT4, "category", None, True),
    (INT4, IVL, "category", None, True),
    (INT4, JSONB, "category", None, True),
    (JSONB, INT4, "category", None, True),
    (BYTEA, INT4, "category", None, True),
    (INT4, BYTEA, "category", None, True),
    (INT4, UUID, "category", None, True),
    (UUID, INT4, "category", None, True),
    (UUID, UUID, "same", None, False),
]


@pytest.mark.parametrize(
    ("incoming", "target", "kind", "widen", "checked"), PAIRS, ids=[f"{p[0]}->{p[1]}" for p in PAIRS]
)
def test_classify(incoming: str, target: str, kind: str, widen: str | None, checked: bool) -> None:
    rule = classify(incoming, target)
    assert (rule.kind, rule.widen, rule.changed is not None) == (kind, widen, checked)
    assert rule.incoming == parse_type(incoming) and rule.target == parse_type(target)
    # Every rule converts through a cast to the column's type.
    assert target in rule.convert_sql("q.v")
    if rule.kind in ("same", "safe"):
        assert rule.changed is None
    if rule.kind == "lossy":
        assert rule.changed is not None and rule.what
    if rule.widen is not None:
        # The widened pair is a rule of its own (the load checks the values again with it before it
        # widens, pg_contract.enforce), and one that never widens again: evolve changes a column once.
        wider = classify(incoming, rule.widen)
        assert wider.widen is None, (incoming, rule.widen, wider)


def test_every_family_pair_has_a_rule() -> None:
    """No pair falls through: each family into each other family gets a rule of a known kind."""
    samples = [INT4, NUM10_2, DOUBLE, BOOL, TEXT, VC5, DATE, TS, TSTZ, TIME, TIMETZ, IVL, JSONB, BYTEA, UUID]
    for incoming in samples:
        for target in samples:
            rule = classify(incoming, target)
            assert rule.kind in ("same", "safe", "lossy", "parse", "category"), (incoming, target)
            if incoming == target:
                assert rule.kind == "same"
            elif parse_type(incoming).family != parse_type(target).family and rule.kind == "category":
                # A change of kind never widens to anything but text (a longer text column).
                assert rule.widen in (None, "text", NUM, TS), (incoming, target, rule.widen)


def test_check_sql_and_bounds() -> None:
    """The SQL templates are over {v} and name the column's type; bounds let ETL prove values in Arrow."""
    rule = classify(DOUBLE, INT4)
    assert rule.changed_sql("q.score") == (
        "CAST(CAST(q.score AS integer) AS double precision) IS DISTINCT FROM q.score"
    )
    assert rule.convert_sql("q.score") == "CAST(q.score AS integer)"
    assert not rule.direct and rule.bound is None  # COPY of 1001.5 into integer would round it
    narrow = classify(INT8, INT4)
    assert narrow.bound == ("range", -(2**31), 2**31 - 1) and narrow.direct
    assert classify(INT4, NUM5_0).bound == ("range", -99999, 99999)
    assert classify(INT8, DOUBLE).bound == ("range", -(2**53), 2**53)
    assert classify(TEXT, VC5).bound == ("length", 5, 5)
    # char(n) compares as bpchar: trailing spaces are padding ('ab ' is unchanged in char(5)).
    assert "AS bpchar)" in (classify(TEXT, CH5).changed or "")
    assert "AS text)" in (classify(TEXT, VC5).changed or "")
    # Losing the zone changes every value that is not null.
    zone = classify(TSTZ, TS)
    assert zone.zone_loss and zone.changed_sql("x") == "x IS NOT NULL"
    # A change of kind converts through the value's text (as COPY reads it), a text target directly.
    assert classify(INT4, BOOL).convert_sql("v") == "CAST(CAST(v AS text) AS boolean)"
    assert classify(INT4, TEXT).convert_sql("v") == "CAST(v AS text)"
    assert classify(TEXT, NUM10_2).changed_sql("v") == (
        "CAST(CAST(v AS numeric(10,2)) AS numeric) IS DISTINCT FROM CAST(v AS numeric)"
    )


def test_unknown_column_types_use_the_catalog_category() -> None:
    # A type of the input's own category (money is numeric, 'N') is read as COPY reads it.
    assert classify(INT4, "money", target_category="N").kind == "parse"
    assert classify(INT4, "money").kind == "category"
    assert classify(INT4, "citext", target_category="S").kind == "category"  # another category: checked
    assert classify(JSONB, "hstore", target_category="U").kind == "parse"


def test_a_domain_is_never_widened() -> None:
    """Widening a domain column to its base type would drop the domain's checks."""
    assert classify(INT8, INT4).widen == "bigint"
    rule = classify(INT8, INT4, domain=True)
    assert rule.kind == "lossy" and rule.widen is None and rule.changed is not None


# --- messages -----------------------------------------------------------------------------------------


def test_change_text() -> None:
    rule = classify(DOUBLE, INT4)
    assert pg_types.change_text(rule, "score", "1001.5", "1002", None) == (
        "column 'score' (input double precision, table integer): value 1001.5 would be stored as 1002"
    )
    overflow = classify(INT8, INT4)
    assert pg_types.change_text(overflow, "id", "3000000000", None, "integer out of range") == (
        "column 'id' (input bigint, table integer): value 3000000000 cannot be stored as integer "
        "(integer out of range)"
    )
    zone = classify(TSTZ, TS)
    assert pg_types.change_text(zone, "at", "2024-01-02 03:04:05+00", "2024-01-02 03:04:05", None) == (
        "column 'at' (input timestamp with time zone, table timestamp without time zone): value "
        "2024-01-02 03:04:05+00 would lose its time zone (stored as 2024-01-02 03:04:05)"
    )


def test_refusal_advice() -> None:
    rounds = classify(DOUBLE, INT4)  # widens to double precision
    bigint = classify(DOUBLE, INT8)  # nothing to widen to
    advice = pg_types.refusal_advice("fail", rounds, True)
    assert "'evolve' widens the column to double precision" in advice
    assert "select_columns" in advice
    assert pg_types.refusal_advice("discard", rounds, False) == (
        "cast upstream (select_columns) or change the column's type"
    )
    advice = pg_types.refusal_advice("evolve", bigint, False)
    assert "no such type holds bigint and double precision" in advice
    advice = pg_types.refusal_advice("evolve", rounds, False)
    assert advice.startswith("widening the column to double precision would change it too")
    # A value the column's type cannot read at all, which the widened type cannot read either.
    unreadable = classify(TEXT, DATE)
    advice = pg_types.refusal_advice("evolve", unreadable, False, unreadable=True)
    assert advice.startswith("it cannot be stored as timestamp without time zone either")
    assert pg_types.refusal_advice("fail", unreadable, False, unreadable=True) == (
        "cast upstream (select_columns) or change the column's type"
    )
