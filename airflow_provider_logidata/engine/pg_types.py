"""The type contract of a PostgreSQL load: which (input type, table column type) pairs can change a value.

Why it exists: PostgreSQL converts silently on assignment (``1001.5`` into an ``integer`` column is stored as
``1002``, an explicit cast cuts a longer text to ``varchar(n)``, a ``timestamptz`` stored in a ``timestamp``
column loses its zone). Both load paths, ETL (``COPY`` of Arrow batches) and ELT (``INSERT ... SELECT``
inside PostgreSQL), describe their input as PostgreSQL types and ask this module about every pair, so they
apply one rule and reach the same outcome.

Every pair gets a :class:`Rule` of one kind:

- ``same`` / ``safe``: no value can change (``smallint`` -> ``bigint``, ``date`` -> ``timestamp``, ...).
- ``lossy``: some values can change. The load runs :attr:`Rule.changed` over the actual values in SQL (the
  round trip ``CAST(CAST(v AS table) AS input) IS DISTINCT FROM v`` by default; when the cast itself fails
  the value cannot be stored at all). A value that would change is a type change: ``fail`` and ``discard``
  refuse it; ``evolve`` widens the column to :attr:`Rule.widen` when that type keeps the existing and the
  incoming values (checked again with the rule of the widened pair), and refuses otherwise.
- ``parse``: text into a type that reads text (json, uuid, enum, interval, ...): the type's input function
  reads it, as ``COPY`` does; nothing to check, unless an interval column's fields or precision would cut
  it (``interval year``, ``interval second(0)``).
- ``category``: another kind of value (number into text, text into a number or a date, ...). ``fail``
  refuses it as a changed type before any row is read; ``evolve`` and ``discard`` convert it as ``COPY``
  would, through the value's text, and refuse a value whose text would change (``5`` into a boolean). Text
  itself is read by the column type's input function, checked only where that input would round or cut
  (``'12.7'`` into ``numeric(10,0)``, ``'2024-01-05 10:30'`` into a date).

Pure: no connection, no I/O. The SQL it returns is templates over ``{v}`` (the incoming value) built from
type names PostgreSQL or ``engine.pg_load_plan.pg_type_for`` wrote, never from user text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from airflow_provider_logidata.engine.pg_type_info import (
    BOOL,
    CANONICAL,
    DATETIME,
    DEFAULT_PRECISION,
    FLOAT,
    FLOAT_MANTISSA,
    INT,
    INT_BITS,
    INT_DIGITS,
    INT_RANGE,
    INTERVAL,
    JSON,
    NUMERIC,
    OTHER,
    TEXT,
    TIME,
    PgType,
    parse_type,
)

Kind = Literal["same", "safe", "lossy", "parse", "category"]
Bound = tuple[Literal["range", "length"], int, int]

_NUMBERS = (INT, NUMERIC, FLOAT)


@dataclass(frozen=True)
class Rule:
    """How values of ``incoming`` are loaded into a column of ``target``, and what may change."""

    kind: Kind
    incoming: PgType
    target: PgType
    convert: str  # SQL over {v}: the incoming value as the column's type
    changed: str | None = None  # SQL over {v}: true when the load would change the value (or it errors)
    widen: str | None = None  # evolve: the column type holding the existing and the incoming values
    direct: bool = True  # ETL may COPY the Arrow values straight into the column (same result as convert)
    bound: Bound | None = None  # values inside it cannot change: lets ETL skip the SQL check (Arrow proof)
    what: str = ""  # what the load could change, for messages and the README
    zone_loss: bool = False  # any value changes: its time zone would be dropped

    def convert_sql(self, value: str) -> str:
        return self.convert.replace("{v}", value)

    def changed_sql(self, value: str) -> str | None:
        return None if self.changed is None else self.changed.replace("{v}", value)


def _cast(t: str) -> str:
    return f"CAST({{v}} AS {t})"


def _round_trip(i: PgType, t: PgType, compare: str | None = None) -> str:
    """True when the value read back from the column differs (compared as ``compare``, default the input)."""
    if compare is None:
        return f"CAST(CAST({{v}} AS {t.sql}) AS {i.sql}) IS DISTINCT FROM {{v}}"
    return f"CAST(CAST({{v}} AS {t.sql}) AS {compare}) IS DISTINCT FROM CAST({{v}} AS {compare})"


def _text_changes(t: PgType) -> str:
    """True when the value's text would change through the column (category changes, length limits)."""
    return f"CAST(CAST(CAST({{v}} AS text) AS {t.sql}) AS text) IS DISTINCT FROM CAST({{v}} AS text)"


def _limited_text(t: PgType) -> bool:
    return t.family == TEXT and t.base != "text" and bool(t.mods)


def _rounds(t: PgType) -> bool:
    """Whether the type's modifier rounds what its input function reads (numeric(p,s), timestamp(3), ...)."""
    if t.base == "numeric":
        return bool(t.mods)
    return t.base in ("timestamp", "timestamptz", "time", "timetz") and t.precision < DEFAULT_PRECISION


def classify(
    incoming: str | PgType,
    target: str | PgType,
    *,
    target_category: str | None = None,
    domain: bool = False,
) -> Rule:
    """The rule for loading values of type ``incoming`` into a column of type ``target``.

    ``target_category``: the column type's ``pg_type.typcategory`` (used for types not known here);
    ``domain``: the column is a domain over ``target`` (never widened: the domain's checks would be lost).
    """
    i = incoming if isinstance(incoming, PgType) else parse_type(incoming)
    t = target if isinstance(target, PgType) else parse_type(target)
    rule = _classify(i, t, target_category)
    return dataclasses.replace(rule, widen=None) if domain else rule


def _classify(i: PgType, t: PgType, target_category: str | None) -> Rule:
    cast = _cast(t.sql)
    if i.key == t.key:
        return Rule("same", i, t, cast)
    fi, ft = i.family, t.family
    if fi == ft and fi != OTHER:
        return _same_family(i, t)
    if fi in _NUMBERS and ft in _NUMBERS:
        return _numeric_rule(i, t)
    if fi == TEXT:
        if ft in (INT, NUMERIC, FLOAT, BOOL, DATETIME, TIME):
            # Parsed by the column type's input function, as COPY does; a modifier that rounds is checked
            # against the type without it ('12.7' into numeric(10,0) would be stored as 13).
            if _rounds(t):
                return Rule(
                    "category",
                    i,
                    t,
                    cast,
                    _round_trip(i, t, compare=t.unconstrained),
                    widen=t.unconstrained,
                    direct=False,
                    what="digits or precision beyond the column's",
                )
            if t.base == "date":
                # date's input function reads a timestamp and drops its time ('2024-01-05 10:30' would
                # be stored as 2024-01-05), as a timestamp into a date would: checked against the text
                # read as a timestamp, and evolve widens to timestamp as it does for timestamp -> date.
                return Rule(
                    "category",
                    i,
                    t,
                    cast,
                    _round_trip(i, t, compare=CANONICAL["timestamp"]),
                    widen=CANONICAL["timestamp"],
                    direct=False,
                    what="the time of day",
                )
            return Rule("category", i, t, cast, what="text read as another type")
        if ft == INTERVAL and (t.mods or t.fields):
            # Both paths read intervals as text; interval year or second(0) would cut what it reads
            # ('1 year 2 mons' -> 1 year, '00:00:01.5' -> 00:00:02): checked as the unconstrained type.
            return Rule(
                "parse",
                i,
                t,
                cast,
                _round_trip(i, t, compare="interval"),
                widen="interval",
                direct=False,
                what="interval fields or precision",
            )
        return Rule("parse", i, t, cast, what="text read by the column type's input function")
    if fi == JSON and ft == TEXT:
        if _limited_text(t):
            return Rule(
                "lossy",
                i,
                t,
                cast,
                _text_changes(t),
                widen="text",
                direct=False,
                what="text longer than the column",
            )
        return Rule("safe", i, t, cast, direct=False)
    if ft == OTHER and target_category is not None and target_category == i.category:
        return Rule("parse", i, t, cast, what="read as COPY reads it")
    # Another kind of value: converted through its text, as COPY reads it; a value whose text would change
    # (5 into a boolean, 1.5 into a date) is refused.
    convert = cast if ft == TEXT else f"CAST(CAST({{v}} AS text) AS {t.sql})"
    changed = None if ft == TEXT and not _limited_text(t) else _text_changes(t)
    widen = "text" if ft == TEXT and _limited_text(t) else None
    return Rule("category", i, t, convert, changed, widen=widen, direct=False, what="another kind of value")


def _same_family(i: PgType, t: PgType) -> Rule:
    cast = _cast(t.sql)
    family = i.family

    def lossy(
        what: str,
        widen: str | None,
        *,
        changed: str | None = None,
        bound: Bound | None = None,
        direct: bool = False,
        zone_loss: bool = False,
    ) -> Rule:
        check = changed if changed is not None else _round_trip(i, t)
        return Rule("lossy", i, t, cast, check, widen, direct or bound is not None, bound, what, zone_loss)

    if family == INT:
        if INT_BITS[i.base] <= INT_BITS[t.base]:
            return Rule("safe", i, t, cast)
        low, high = INT_RANGE[t.base]
        return lossy("an out-of-range value", CANONICAL[i.base], bound=("range", low, high))
    if family == NUMERIC:
        if not t.mods:
            return Rule("safe", i, t, cast)
        if i.mods:
            (ip, is_), (tp, ts) = i.mods, t.mods
            if is_ >= 0 and ts >= is_ and tp - ts >= ip - is_:
                return Rule("safe", i, t, cast)
        return lossy("digits beyond the column's precision or scale", "numeric")
    if family == FLOAT:
        if t.base == "float8":  # float4 -> float8 is exact (Arrow's text of a float32 is not: no COPY)
            return Rule("safe", i, t, cast, direct=False)
        return lossy("float precision", "double precision")
    if family == TEXT:
        if not _limited_text(t):
            return Rule("safe", i, t, cast)
        (length,) = t.mods
        if i.base in ("varchar", "bpchar") and i.mods and i.mods[0] <= length:
            return Rule("safe", i, t, cast)
        # char(n) pads and ignores trailing spaces: compared as bpchar, 'ab ' is unchanged in char(5).
        compare = "bpchar" if t.base == "bpchar" else "text"
        return lossy(
            "text longer than the column",
            "text",
            changed=_round_trip(i, t, compare=compare),
            bound=("length", length, length),
        )
    if family == DATETIME:
        if i.base == "date":  # date -> timestamp(tz): midnight (UTC for timestamptz: the session is UTC)
            return Rule("safe", i, t, cast)
        if t.base == "date":
            return lossy("the time of day", i.unconstrained)
        if i.base == "timestamptz" and t.base == "timestamp":
            return lossy(
                "the time zone",
                "timestamp with time zone",
                changed="{v} IS NOT NULL",
                zone_loss=True,
            )
        # timestamp -> timestamptz reads naive values as UTC (the load's session is UTC).
        if t.precision >= i.precision:
            return Rule("safe", i, t, cast)
        return lossy("sub-second precision", t.unconstrained)
    if family == TIME:
        if i.base != t.base:
            return lossy("the time zone", None)
        if t.precision >= i.precision:
            return Rule("safe", i, t, cast)
        return lossy("sub-second precision", t.unconstrained)
    if family == INTERVAL:
        if not t.mods and not t.fields:
            return Rule("safe", i, t, cast)
        return lossy("interval fields or precision", "interval")
    if family == JSON:  # json <-> jsonb: the same document (COPY of Arrow's JSON text is not jsonb's text)
        return Rule("safe", i, t, cast, direct=False)
    return Rule("same", i, t, cast)  # bool, bytea


def _numeric_rule(i: PgType, t: PgType) -> Rule:
    """int, numeric and float across each other."""
    cast = _cast(t.sql)
    fi, ft = i.family, t.family
    widen: str | None
    if fi == INT and ft == NUMERIC:
        if not t.mods:
            return Rule("safe", i, t, cast)
        precision, scale = t.mods
        digits = precision - scale
        if scale >= 0 and digits >= INT_DIGITS[i.base]:
            return Rule("safe", i, t, cast)
        bound: Bound | None = ("range", -(10**digits - 1), 10**digits - 1) if scale >= 0 else None
        return Rule(
            "lossy",
            i,
            t,
            cast,
            _round_trip(i, t),
            "numeric",
            direct=bound is not None,
            bound=bound,
            what="digits beyond the column's precision",
        )
    if fi == INT and ft == FLOAT:
        bits = FLOAT_MANTISSA[t.base]
        if INT_BITS[i.base] - 1 <= bits:
            return Rule("safe", i, t, cast)
        widen = "double precision" if t.base == "float4" else None
        return Rule(
            "lossy",
            i,
            t,
            cast,
            _round_trip(i, t),
            widen,
            direct=True,
            bound=("range", -(2**bits), 2**bits),
            what="float precision",
        )
    if ft == INT:  # numeric or float -> integer: fractions are rounded, large values do not fit
        # int2/int4 hold exactly in double precision; a bigint column has no type keeping both exactly.
        widen = "numeric" if fi == NUMERIC else "double precision" if t.base in ("int2", "int4") else None
        return Rule("lossy", i, t, cast, _round_trip(i, t), widen, direct=False, what="a fraction or a range")
    if fi == NUMERIC and ft == FLOAT:
        widen = "double precision" if t.base == "float4" else None
        return Rule("lossy", i, t, cast, _round_trip(i, t), widen, direct=False, what="float precision")
    # float -> numeric: PostgreSQL keeps 15 significant digits (0.30000000000000004 -> 0.3)
    widen = "numeric" if t.mods else None
    return Rule("lossy", i, t, cast, _round_trip(i, t), widen, direct=False, what="float to decimal digits")


# --- messages ---------------------------------------------------------------------------------------


def change_text(rule: Rule, column: str, example: str, stored: str | None, error: str | None) -> str:
    """``column 'score' (input double precision, table integer): value 1001.5 would be stored as 1002``."""
    head = f"column {column!r} (input {rule.incoming.sql}, table {rule.target.sql}): value {example}"
    if error is not None:
        return f"{head} cannot be stored as {rule.target.sql} ({error})"
    if rule.zone_loss:
        return f"{head} would lose its time zone (stored as {stored})"
    return f"{head} would be stored as {stored}"


def refusal_advice(mode: str, rule: Rule, widen_ok: bool, *, unreadable: bool = False) -> str:
    """What to do about a value the load would change, in the words of the node's on_schema_change.

    ``unreadable``: the value cannot be stored as the column's type at all (the cast fails).
    """
    if mode == "evolve":
        if unreadable and rule.widen is not None and not widen_ok:
            return (
                f"it cannot be stored as {rule.widen} either, so 'evolve' leaves the column as it is: fix "
                "or filter the value upstream (select_columns cast, filter_rows)"
            )
        if rule.widen is None:
            return (
                "on_schema_change 'evolve' widens a column only to a type that keeps every existing and "
                f"incoming value, and no such type holds {rule.target.sql} and {rule.incoming.sql}: cast "
                "upstream (select_columns) or change the column's type"
            )
        return (
            f"widening the column to {rule.widen} would change it too, so 'evolve' leaves the column as it "
            "is: cast upstream (select_columns) or change the column's type"
        )
    if widen_ok:
        return (
            f"on_schema_change 'evolve' widens the column to {rule.widen}, or cast upstream (select_columns)"
        )
    return "cast upstream (select_columns) or change the column's type"
