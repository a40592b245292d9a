"""PostgreSQL types as written: ``format_type``'s text parsed into a base, modifiers and a family.

The type contract (``engine.pg_types``) decides per (input, column) pair of these what a load may change;
the facts it needs about a type (its family, the range of an integer, the mantissa of a float, how a type
is written once widened) live here, next to the parser that finds them.

Pure: no connection, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INT, NUMERIC, FLOAT, BOOL, TEXT = "int", "numeric", "float", "bool", "text"
DATETIME, TIME, INTERVAL, JSON, BYTEA, OTHER = "datetime", "time", "interval", "json", "bytea", "other"

_ALIASES = {
    "smallint": "int2",
    "int2": "int2",
    "integer": "int4",
    "int": "int4",
    "int4": "int4",
    "bigint": "int8",
    "int8": "int8",
    "real": "float4",
    "float4": "float4",
    "double precision": "float8",
    "float8": "float8",
    "numeric": "numeric",
    "decimal": "numeric",
    "boolean": "bool",
    "bool": "bool",
    "text": "text",
    "character varying": "varchar",
    "varchar": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "bpchar": "bpchar",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp": "timestamp",
    "timestamp with time zone": "timestamptz",
    "timestamptz": "timestamptz",
    "time without time zone": "time",
    "time": "time",
    "time with time zone": "timetz",
    "timetz": "timetz",
    "interval": "interval",
    "json": "json",
    "jsonb": "jsonb",
    "bytea": "bytea",
}
_FAMILIES = {
    "int2": INT,
    "int4": INT,
    "int8": INT,
    "numeric": NUMERIC,
    "float4": FLOAT,
    "float8": FLOAT,
    "bool": BOOL,
    "text": TEXT,
    "varchar": TEXT,
    "bpchar": TEXT,
    "date": DATETIME,
    "timestamp": DATETIME,
    "timestamptz": DATETIME,
    "time": TIME,
    "timetz": TIME,
    "interval": INTERVAL,
    "json": JSON,
    "jsonb": JSON,
    "bytea": BYTEA,
}
# pg_type.typcategory of each family: a table column of a type this module does not know (money, citext,
# a range, ...) in the input's own category is read as COPY reads it, as before.
_PG_CATEGORIES = {
    INT: "N",
    NUMERIC: "N",
    FLOAT: "N",
    BOOL: "B",
    TEXT: "S",
    DATETIME: "D",
    TIME: "D",
    INTERVAL: "T",
    JSON: "U",
    BYTEA: "U",
}
# How a type is written when this module names it (a widened column's type).
CANONICAL = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "numeric": "numeric",
    "text": "text",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "interval": "interval",
}
INT_BITS = {"int2": 16, "int4": 32, "int8": 64}
INT_DIGITS = {"int2": 5, "int4": 10, "int8": 19}  # digits of the largest value
INT_RANGE = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}
FLOAT_MANTISSA = {"float4": 24, "float8": 53}  # every integer up to 2**bits is exact
DEFAULT_PRECISION = 6  # timestamp, time and interval without a precision keep microseconds

_TYPE = re.compile(
    r"^(?P<head>[a-z][a-z ]*?)\s*"
    r"(?:\((?P<mods>\s*-?\d+\s*(?:,\s*-?\d+\s*)?)\))?"
    r"(?P<tail>(?:\s+[a-z][a-z ]*)?)$"
)


@dataclass(frozen=True)
class PgType:
    """A PostgreSQL type as ``format_type`` (or psycopg, or ``pg_type_for``) writes it."""

    sql: str  # usable in CAST and DDL as it is
    base: str  # int2, numeric, varchar, timestamptz, ... or the type's text for types not known here
    mods: tuple[
        int, ...
    ] = ()  # numeric (precision, scale); varchar/bpchar (length,); time types (precision,)
    fields: str = ""  # interval fields (``day to second``)

    @property
    def family(self) -> str:
        return _FAMILIES.get(self.base, OTHER)

    @property
    def category(self) -> str | None:
        return _PG_CATEGORIES.get(self.family)

    @property
    def precision(self) -> int:
        """Fractional second digits of a time, timestamp or interval type."""
        return self.mods[0] if self.mods else DEFAULT_PRECISION

    @property
    def unconstrained(self) -> str:
        """The type without its modifier: what a widened column becomes."""
        return CANONICAL.get(self.base, self.sql)

    @property
    def key(self) -> tuple[str, tuple[int, ...], str]:
        return (self.base, self.mods, self.fields)


def parse_type(type_sql: str) -> PgType:
    """``numeric(10,2)`` -> numeric (10, 2); ``timestamp(3) with time zone`` -> timestamptz (3,); others
    (arrays, enums, domains, quoted names) keep their text as ``base`` and belong to no family."""
    written = " ".join(type_sql.split())
    text = written.lower()
    match = _TYPE.match(text)
    if match is None:
        return PgType(type_sql, written)  # "MyEnum" and "myenum" are two types
    head, tail = match.group("head").strip(), match.group("tail").strip()
    mods = tuple(int(part) for part in match.group("mods").split(",")) if match.group("mods") else ()
    if head.startswith("interval"):
        fields = " ".join([head.removeprefix("interval").strip(), tail]).strip()
        return PgType(type_sql, "interval", mods, fields)
    name = f"{head} {tail}".strip() if tail else head
    base = _ALIASES.get(name)
    if base is None:
        return PgType(type_sql, written)
    if base == "numeric" and len(mods) == 1:
        mods = (mods[0], 0)
    return PgType(type_sql, base, mods)
