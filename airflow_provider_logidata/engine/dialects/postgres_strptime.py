"""DuckDB's ``strptime`` inside PostgreSQL, for ``parse_dates``' ELT builder (``PostgresDialect.strptime``).

PostgreSQL's ``to_date`` is lenient (a month 13 rolls over); DuckDB's parser is the contract. Each format
becomes an anchored regular expression that reads its fields as DuckDB's parser does (a number takes at
most its width in digits, greedily; names match without regard to ASCII case; runs of white space match
runs of white space), and a ``pg_temp`` function checks the fields' ranges and builds the value, so that a
month 13 or a 30 February is no match, as in DuckDB (:func:`pg_format`). A format using a directive
outside :data:`PG_DIRECTIVES` is refused (:class:`UnsupportedFormat`): that node runs in the ETL engine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.elt_context import EltContext

# DuckDB's strptime (``StrpTimeFormat::Parse``), as its version in use behaves (checked value by value
# against DuckDB in tests/integration/test_parse_dates_elt.py):
# - white space is ASCII's (space, \t, \n, \v, \f, \r): skipped before and after the text; a run of it in
#   the format matches a run of one or more in the text; a format starting with white space never matches;
# - a number takes up to its width in ASCII digits (%Y 4, %j 3, %f 6, %g 3, others 2), greedily and never
#   giving any back, at least one; then its range is checked (%m 1-12, %d 1-31, %H 0-23, %I 1-12, %M and
#   %S 0-59, %j 1-366); %y is 1969-2068; a fraction is read as the digits after a decimal point;
# - month and weekday names and AM/PM match whatever their ASCII case (weekday names are not checked
#   against the date); other literal characters match exactly;
# - a field given twice takes its last value (%Y and %y are one field, so are %H and %I, %m, %b and %B);
#   %p turns hours 1-12 into 0-23 (an hour over 12 with %p is no match);
# - %j gives the date (in the year given, else 1900) unless the format also has %m or %d, which win;
# - missing fields default to 1900-01-01 00:00:00; the date must exist (no 30 February);
# - whatever the format, 'infinity', '-infinity' and 'epoch' (any ASCII case) are those timestamps.

# DuckDB's white space (``StringUtil::CharacterIsSpace``), as characters and as a regular expression class.
DUCK_SPACE = " \t\n\v\f\r"
SPACE_CLASS = r"[ \t\n\v\f\r]"
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _ascii_lower(text_sql: str) -> str:
    """ASCII letters in lower case, whatever the database's locale (a Turkish one lowers I to a dotless i)."""
    return f"translate({text_sql}, '{_UPPER}', '{_UPPER.lower()}')"


@dataclass(frozen=True)
class Directive:
    """How one strptime directive reads and what it sets.

    ``field``: year, year2 (%y), month, month_name, day, hour, hour12, minute, second, fraction, yday,
    ampm or weekday (read and ignored); ``width``: the most digits a number takes (0: not a number);
    ``names``: the texts a name directive matches, in DuckDB's order.
    """

    field: str
    width: int = 0
    names: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None


# The directives the PostgreSQL builder supports, with DuckDB's reading of each (``%-d`` and the like are
# DuckDB's unpadded forms, which read exactly as the padded ones).
PG_DIRECTIVES: dict[str, Directive] = {
    "Y": Directive("year", 4),
    "y": Directive("year2", 2),
    "m": Directive("month", 2, low=1, high=12),
    "d": Directive("day", 2, low=1, high=31),
    "H": Directive("hour", 2, low=0, high=23),
    "I": Directive("hour12", 2, low=1, high=12),
    "M": Directive("minute", 2, low=0, high=59),
    "S": Directive("second", 2, low=0, high=59),
    "f": Directive("fraction", 6),
    "g": Directive("fraction", 3),
    "j": Directive("yday", 3, low=1, high=366),
    "b": Directive("month_name", names=tuple(name[:3] for name in MONTHS)),
    "h": Directive("month_name", names=tuple(name[:3] for name in MONTHS)),
    "B": Directive("month_name", names=MONTHS),
    "a": Directive("weekday", names=tuple(name[:3] for name in WEEKDAYS)),
    "A": Directive("weekday", names=WEEKDAYS),
    "p": Directive("ampm", names=("AM", "PM")),
}
for _code in "ymdHIMSj":
    PG_DIRECTIVES["-" + _code] = PG_DIRECTIVES[_code]
# DuckDB's locale shorthands, which it expands to these formats.
_SHORTHANDS = {"c": "%Y-%m-%d %H:%M:%S", "x": "%Y-%m-%d", "X": "%H:%M:%S", "T": "%H:%M:%S"}
# What the directives DuckDB knows but the PostgreSQL builder does not support are.
_UNSUPPORTED = {
    "z": "a UTC offset",
    "Z": "a time zone name",
    "n": "nanoseconds",
    "G": "an ISO year",
    "V": "an ISO week",
    "u": "an ISO weekday number",
    "U": "a week number",
    "W": "a week number",
    "w": "a weekday number",
}


class UnsupportedFormat(ValueError):
    """A format the PostgreSQL builder cannot read as DuckDB does; the message says why."""


@dataclass(frozen=True)
class PgFormat:
    """One strptime format as PostgreSQL reads it.

    ``regex`` is an anchored regular expression (ARE) matching exactly the texts DuckDB's parser reads
    with the format, the fields' ranges aside. Once it matched, where each field lies follows from the
    format alone: ``fields`` pairs each directive read, in order, with the SQL of its text, a piece of
    ``d`` (the text's runs of ASCII digits, ``d[2]`` the first) or of ``a`` (its runs of ASCII letters,
    ``a[2]`` the first); see :func:`_layout`. (PostgreSQL's regular expressions match and split fast but
    capture groups slowly: ``regexp_match`` with a group per field costs ten times the whole parse.)
    ``digits``: whether every text it matches holds a digit (so never 'infinity' nor 'epoch').
    """

    format: str
    regex: str
    fields: tuple[tuple[str, str], ...]
    digits: bool


def _kind(kind: str, value: str) -> str:
    """Which run of the text a piece of the format reads: "digits", "letters" or "other" (a separator)."""
    if kind == "directive":
        directive = PG_DIRECTIVES[value]
        return "digits" if directive.width else "letters"
    if value.isascii() and value.isdigit():
        return "digits"
    if value.isascii() and value.isalpha():
        return "letters"
    return "other"


def _length(kind: str, value: str, last: bool) -> int | None:
    """How many characters of its run a piece takes; None when that varies (a name of varying length, the
    last number of a run of digits: a number before another takes its whole width, or no match)."""
    if kind == "literal":
        return 1
    directive = PG_DIRECTIVES[value]
    if directive.width:
        return None if last else directive.width
    lengths = {len(name) for name in directive.names}
    return lengths.pop() if len(lengths) == 1 else None


def _layout(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(directive, SQL of its text) for each field read, in order, from the runs of digits (``d``) and of
    letters (``a``) of a text the format's regular expression matched."""
    runs: list[tuple[str, list[tuple[str, str]]]] = []  # (kind, its pieces)
    for kind, value in tokens:
        run_kind = _kind(kind, value)
        if runs and runs[-1][0] == run_kind and run_kind != "other":
            runs[-1][1].append((kind, value))
        else:
            runs.append((run_kind, [(kind, value)]))
    fields: list[tuple[str, str]] = []
    seen = {"digits": 1, "letters": 1}  # element 1 of each split is the empty text before the first run
    for run_kind, pieces in runs:
        if run_kind == "other":
            continue
        seen[run_kind] += 1
        run = f"{'d' if run_kind == 'digits' else 'a'}[{seen[run_kind]}]"
        lengths = [_length(kind, value, i == len(pieces) - 1) for i, (kind, value) in enumerate(pieces)]
        for i, (kind, value) in enumerate(pieces):
            if kind == "directive" and PG_DIRECTIVES[value].field != "weekday":
                fields.append((value, _piece_sql(run, lengths, i, value)))
    return fields


def _piece_sql(run: str, lengths: list[int | None], i: int, code: str) -> str:
    """The SQL of piece ``i`` of a run (``d[3]``) whose pieces take these lengths (None: it varies)."""
    length = lengths[i]
    before, after = lengths[:i], lengths[i + 1 :]
    if all(n is not None for n in before):
        start = 1 + sum(n or 0 for n in before)
        if length is not None:
            return f"substr({run}, {start}, {length})"
        if all(n is not None for n in after):
            rest = sum(n or 0 for n in after)
            if rest == 0:
                return run if start == 1 else f"substr({run}, {start})"
            return f"substr({run}, {start}, length({run}) - {start - 1 + rest})"
    elif length is not None and all(n is not None for n in after):
        back = length + sum(n or 0 for n in after)
        return f"substr({run}, length({run}) - {back - 1}, {length})"
    raise UnsupportedFormat(f"%{code} next to another name of varying length, with nothing between them")


def _tokens(fmt: str) -> list[tuple[str, str]]:
    """The format as ("literal", text) and ("directive", code) pieces, as DuckDB's format parser splits it."""
    if not fmt:
        raise UnsupportedFormat("an empty format")
    if "\x00" in fmt:
        raise UnsupportedFormat("a NUL character")
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            tokens.append(("literal", char))
            i += 1
            continue
        if i + 1 == len(fmt):
            raise UnsupportedFormat("a lone % at its end (write %% for a percent sign)")
        code = fmt[i + 1]
        i += 2
        if code == "%":
            tokens.append(("literal", "%"))
            continue
        if code == "-" and i < len(fmt):
            code += fmt[i]
            i += 1
        if code in _SHORTHANDS:
            tokens.extend(_tokens(_SHORTHANDS[code]))
        elif code in PG_DIRECTIVES:
            tokens.append(("directive", code))
        elif code in _UNSUPPORTED:
            raise UnsupportedFormat(
                f"%{code} ({_UNSUPPORTED[code]}), which the PostgreSQL pushdown does not read"
            )
        else:
            raise UnsupportedFormat(f"%{code}, which is no strptime directive")
    return tokens


def _literal_regex(char: str) -> str:
    """One literal character in an ARE: ASCII punctuation escaped, anything else as is."""
    if char.isascii() and not char.isalnum():
        return "\\" + char
    return char


def _names_regex(names: tuple[str, ...]) -> str:
    """Alternatives matching each name whatever its ASCII case ([Jj][Aa][Nn]), without a locale's rules.

    No name is the beginning of another of its list, so at most one matches where DuckDB's parser, which
    takes the first that does, looks for one.
    """
    return "|".join("".join(f"[{c.upper()}{c.lower()}]" for c in name) for name in names)


def pg_format(fmt: str) -> PgFormat:
    """How PostgreSQL reads ``fmt`` as DuckDB's strptime does; raises :class:`UnsupportedFormat` naming
    a directive it does not support."""
    tokens = _tokens(fmt)
    codes = [code for kind, code in tokens if kind == "directive"]
    if sum(PG_DIRECTIVES[code].field == "yday" for code in codes) > 1:
        raise UnsupportedFormat("%j twice (DuckDB refuses every text for it)")
    # White space before the text is skipped, all of it: a format starting with white space never matches.
    parts = [f"^{SPACE_CLASS}*"]
    if tokens[0][0] == "literal" and tokens[0][1] in DUCK_SPACE:
        parts.append(f"(?!{SPACE_CLASS})")
    in_space = False
    for i, (kind, value) in enumerate(tokens):
        if kind == "literal" and value in DUCK_SPACE:
            if not in_space:
                parts.append(f"{SPACE_CLASS}+")
            in_space = True
            continue
        in_space = False
        if kind == "literal":
            parts.append(_literal_regex(value))
            continue
        directive = PG_DIRECTIVES[value]
        if directive.width and i + 1 < len(tokens) and _kind(*tokens[i + 1]) == "digits":
            # Before more digits: exactly ``width`` digits, or fewer with no digit after them (DuckDB never
            # gives one back, so a number before another takes its whole width).
            parts.append(f"(?:[0-9]{{{directive.width}}}|[0-9]{{1,{directive.width - 1}}}(?![0-9]))")
        elif directive.width:
            parts.append(f"[0-9]{{1,{directive.width}}}")  # what follows is no digit: the whole run
        elif directive.field == "month_name":
            # Checked against the names with the ranges (no name begins another, so a run of letters holds
            # one only where DuckDB's parser finds it).
            lengths = {len(name) for name in directive.names}
            parts.append(f"[A-Za-z]{{{lengths.pop()}}}" if len(lengths) == 1 else "[A-Za-z]+")
        else:
            parts.append(f"(?:{_names_regex(directive.names)})")
    parts.append(f"{SPACE_CLASS}*$")
    digits = any(_kind(kind, value) == "digits" for kind, value in tokens)
    return PgFormat(fmt, "".join(parts), tuple(_layout(tokens)), digits)


def _fields_sql(pg: PgFormat) -> list[str]:
    """The SQL arguments of :data:`FIELDS_FUNCTION`, in its order: whether every number read is in its
    range, then year, month, day, hour, minute, second, microseconds, pm (a boolean, null without %p)
    and day of the year (the last value of each field, its default when the format has none)."""
    from airflow_provider_logidata.engine.sql import quote_literal

    checks: list[str] = []
    values: dict[str, str] = {
        "year": "1900",
        "month": "1",
        "day": "1",
        "hour": "0",
        "minute": "0",
        "second": "0",
        "fraction": "0",
        "ampm": "NULL",
        "yday": "NULL",
    }
    dated = any(code.lstrip("-") in ("m", "d") for code, _ in pg.fields)  # %m or %d win over %j
    for code, text in pg.fields:
        directive = PG_DIRECTIVES[code]
        number = f"{text}::int"
        if directive.low is not None and directive.high is not None:
            checks.append(f"{number} BETWEEN {directive.low} AND {directive.high}")
        field = directive.field
        if field == "year2":
            values["year"] = f"({number} + CASE WHEN {number} >= 69 THEN 1900 ELSE 2000 END)"
        elif field == "month_name":
            names = ", ".join(quote_literal(name.lower()) for name in directive.names)
            values["month"] = f"array_position(ARRAY[{names}], {_ascii_lower(text)})"
            checks.append(f"{values['month']} IS NOT NULL")  # a name, even when a later field wins
        elif field == "hour12":
            values["hour"] = number
        elif field == "fraction":
            values["fraction"] = f"rpad({text}, 6, '0')::int"
        elif field == "ampm":
            values["ampm"] = f"left({text}, 1) IN ('P', 'p')"
        elif field == "yday":
            if not dated:
                values["yday"] = number
        else:
            values[field] = number
    order = ("year", "month", "day", "hour", "minute", "second", "fraction", "ampm", "yday")
    return [" AND ".join(checks) or "true", *(values[name] for name in order)]


# The date and time from the fields of one match, or null when they make none (DuckDB's checks after its
# parse): %p turns the hour (0-12) into 0-23; %j counts days from 1 January unless %m or %d was given;
# the day must exist in its month. PostgreSQL's make_date has no year 0 (DuckDB's year 0 is 1 BC, as
# PostgreSQL's dates count): the date is built 400 years later, the same in the Gregorian calendar's
# 400-year cycle, and moved back by those 146097 days.
FIELDS_FUNCTION = "pg_temp.logidata_strptime_fields"
_FIELDS_CREATE = f"""CREATE OR REPLACE FUNCTION {FIELDS_FUNCTION}(
    ok boolean, y int, mo int, d int, h int, mi int, s int, us int, pm boolean, yd int
) RETURNS timestamp LANGUAGE plpgsql IMMUTABLE AS $logidata$
DECLARE
    leap boolean := y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0);
    dt date;
BEGIN
    IF ok IS NOT TRUE THEN RETURN NULL; END IF;
    IF pm IS NOT NULL THEN
        IF h > 12 THEN RETURN NULL; END IF;
        h := h % 12 + CASE WHEN pm THEN 12 ELSE 0 END;
    END IF;
    IF yd IS NOT NULL THEN
        IF yd > (CASE WHEN leap THEN 366 ELSE 365 END) THEN RETURN NULL; END IF;
        dt := make_date(y + 400, 1, 1) + (yd - 1);
    ELSE
        IF d > (CASE WHEN mo = 2 THEN CASE WHEN leap THEN 29 ELSE 28 END
                     WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END) THEN
            RETURN NULL;
        END IF;
        dt := make_date(y + 400, mo, d);
    END IF;
    RETURN (dt - 146097) + make_time(h, mi, s) + us * interval '1 microsecond';
END
$logidata$"""


def _pg_string(text: str) -> str:
    """An escape string literal (E'...'): the same text whatever ``standard_conforming_strings`` says.

    Regular expressions hold backslashes, and a format's characters reach them (a quote, a dollar sign:
    escaped by :func:`_literal_regex`, so no ``$logidata$`` can end the function's body either).
    """
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def parse_function_sql(name: str, formats: list[PgFormat]) -> str:
    """The CREATE of ``pg_temp.<name>(text) -> timestamp``: DuckDB's ``try_strptime`` of a trimmed text
    with each format in turn, the first that gives a value (null when none does).

    DuckDB reads 'infinity', '-infinity' and 'epoch' before any format; when no format can match such a
    text (each needs a digit), they are looked for only after every format failed, sparing the others.
    """
    special = (
        f"CASE btrim({_ascii_lower('v')}, {_pg_string(DUCK_SPACE)}) WHEN 'epoch' THEN timestamp '1970-01-01' "
        "WHEN 'infinity' THEN timestamp 'infinity' WHEN '-infinity' THEN timestamp '-infinity' END"
    )
    first = not all(pg.digits for pg in formats)
    lines = [
        f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v text) RETURNS timestamp LANGUAGE plpgsql IMMUTABLE "
        "STRICT AS $logidata$",
        "DECLARE",
        "    d text[];  -- the runs of digits, d[2] the first",
        "    a text[];  -- the runs of letters, a[2] the first",
        "    r timestamp;",
        "BEGIN",
    ]
    if first:
        lines += [f"    r := {special};", "    IF r IS NOT NULL THEN RETURN r; END IF;"]
    for pg in formats:
        text = " ".join(text for _code, text in pg.fields)
        lines.append(f"    IF v ~ {_pg_string(pg.regex)} THEN")
        if "d[" in text:
            lines.append("        d := regexp_split_to_array('x' || v, '[^0-9]+');")
        if "a[" in text:
            lines.append("        a := regexp_split_to_array('0' || v, '[^A-Za-z]+');")
        lines += [
            f"        r := {FIELDS_FUNCTION}({', '.join(_fields_sql(pg))});",
            "        IF r IS NOT NULL THEN RETURN r; END IF;",
            "    END IF;",
        ]
    lines += [f"    RETURN {'NULL' if first else special};", "END", "$logidata$"]
    return "\n".join(lines)


def parse_function(ctx: EltContext, formats: list[str]) -> str:
    """``pg_temp.<name>`` parsing with ``formats``, created (with the function it calls) on first use;
    raises :class:`UnsupportedFormat`."""
    parsed = [pg_format(fmt) for fmt in formats]
    digest = hashlib.sha1("\x00".join(formats).encode()).hexdigest()[:12]
    name = f"logidata_parse_dates_{digest}"
    ctx.function(FIELDS_FUNCTION.removeprefix("pg_temp."), _FIELDS_CREATE)
    return ctx.function(name, parse_function_sql(name, parsed))
