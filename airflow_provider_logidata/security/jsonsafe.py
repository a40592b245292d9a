"""Bounded JSON decoding for untrusted pipeline documents, stored files and request bodies.

Python's ``json`` decoder recurses once per nesting level (deep input ends in a ``RecursionError``), turns
an integer literal of any length into an ``int`` (past 4,300 digits that is a ``ValueError``, below it a
quadratic conversion), and accepts ``NaN`` / ``Infinity``, which nothing downstream can serialize again
(``allow_nan=False`` in the store, Starlette's responses). One stored file or request body like that used
to answer 500 for everybody, so every decode of pipeline JSON goes through :func:`loads`.

Speed matters: the DAG processor decodes every stored pipeline on every parse. The checks therefore run
as a few C-level passes over the bytes (``bytes.translate``, ``replace``, substring search) and the
Python-level hooks of ``json`` are only installed when such a pass says a literal could break a limit.
Exact positions (line and column) are computed on the error path only.
"""

from __future__ import annotations

import functools
import json
import math
import re
from itertools import accumulate
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_INT_DIGITS", "JsonLimitError", "loads"]

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_INT_DIGITS = 40

# Bytes that matter for nesting: brackets, quotes and backslashes. The rest goes in one C-level pass.
_STRUCTURE = b'[]{}"\\'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
# Every digit becomes "0", "E" becomes "e" and "+" is deleted, so that a substring search finds a long
# digit run ("0" * n) or an exponent of three digits or more ("0e000", also "1E+400"). Matches inside
# strings only cost speed (the exact hooks then run).
_NUMBERS = bytes.maketrans(b"0123456789E", b"0000000000e")
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_QUOTED = re.compile(rb'"[^"]*"')
# JSON escapes are a backslash and one of '"\\/bfnrtu': those letters (as "x") stay next to their
# backslash, so one escape is a backslash and the byte after it, matched left to right as json reads.
_ESCAPABLE = bytes.maketrans(b"/bfnrtu", b"xxxxxxx")
_NOT_ESCAPE_OR_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE + b"/bfnrtu")
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_STRING_PATTERN = r'"[^"\\]*(?:\\.[^"\\]*)*"'
# Error path only: the tokens that matter when locating a problem (strings are skipped whole).
_SCAN = re.compile(r"(?P<string>" + _STRING_PATTERN + r')|(?P<quote>")|(?P<bracket>[\[\]{}])', re.DOTALL)


class JsonLimitError(ValueError):
    """JSON that is well-formed enough to decode but breaks a limit (or is not UTF-8 text).

    ``kind`` is one of ``depth``, ``integer``, ``constant``, ``float``, ``surrogate``, ``encoding``;
    ``lineno`` / ``colno`` (1-based) and ``pos`` (0-based character offset) say where, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        pos: int | None = None,
        lineno: int | None = None,
        colno: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.pos = pos
        self.lineno = lineno
        self.colno = colno


class _Refused(Exception):
    """Raised from inside json's hooks (not a ValueError, so json never mistakes it for its own)."""

    def __init__(self, kind: str, literal: str) -> None:
        super().__init__(literal)
        self.kind = kind
        self.literal = literal


def _where(text: str, pos: int | None) -> tuple[str, int | None, int | None]:
    if pos is None:
        return "", None, None
    lineno = text.count("\n", 0, pos) + 1
    colno = pos - text.rfind("\n", 0, pos)
    return f" at line {lineno} column {colno}", lineno, colno


def _first_outside_strings(text: str, pattern: str) -> int | None:
    """Offset of the first match of ``pattern`` that is not inside a JSON string (error path only)."""
    scanner = re.compile(_STRING_PATTERN + "|(?P<hit>" + pattern + ")", re.DOTALL)
    for match in scanner.finditer(text):
        if match.group("hit") is not None:
            return match.start()
    return None


def _depth_violation(text: str, max_depth: int) -> int | None:
    """Offset of the bracket that opens level ``max_depth + 1``, skipping strings exactly; else None.

    Runs only when the fast scan saw too deep a nesting, and stops at the first violation, so a
    100,000-level document costs a few dozen steps here.
    """
    depth = 0
    for match in _SCAN.finditer(text):
        kind = match.lastgroup
        if kind == "quote":
            return None  # an unterminated string: json reports the syntax error itself
        if kind == "bracket":
            if match.group() in "[{":
                depth += 1
                if depth > max_depth:
                    return match.start()
            else:
                depth -= 1
    return None


def _may_nest_deeper(raw: bytes, max_depth: int) -> bool:
    """False when the brackets outside strings never nest deeper than ``max_depth`` (C-speed passes).

    Works on the UTF-8 bytes: no byte of a multi-byte sequence is ASCII, so quotes, backslashes and
    brackets are found exactly. Once escaped backslashes and escaped quotes are dropped, every quote
    left delimits a string.
    """
    skeleton = raw.translate(None, _NOT_STRUCTURE)
    if skeleton.count(b"[") + skeleton.count(b"{") <= max_depth:
        return False
    if b"\\" in skeleton:
        # A backslash next to a quote or another backslash in the skeleton may be an escape in the
        # text (or only look like one after deletions): resolve escapes on the full text then.
        if b'\\"' in skeleton or b"\\\\" in skeleton:
            # Keep what an escape may start with, so each backslash sits next to the byte it escapes.
            escapes = raw.translate(_ESCAPABLE, _NOT_ESCAPE_OR_STRUCTURE)
            skeleton = _ESCAPE.sub(b"", escapes).translate(None, b"x")
        else:
            skeleton = skeleton.replace(b"\\", b"")
    # Two adjacent quotes are an empty string or the end and start of two strings with nothing outside
    # between them: dropping them keeps every bracket on the same side. Strings holding brackets remain.
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _QUOTED.sub(b"", skeleton).replace(b'"', b"")
    # Each pass removes the innermost pairs; a document that is empty after max_depth passes is no
    # deeper than that (the usual case, a few passes). Otherwise it is deep or unbalanced (malformed):
    # the running depth of the brackets decides, still without a Python-level loop.
    brackets = skeleton.translate(_BRACKETS)
    for _ in range(max_depth):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return max(accumulate(map(_STEP.__getitem__, skeleton))) > max_depth


def _check_depth(text: str, raw: bytes, max_depth: int) -> None:
    if not _may_nest_deeper(raw, max_depth):
        return
    pos = _depth_violation(text, max_depth)
    if pos is None:
        return  # malformed rather than deep: json.loads names the syntax error
    where, lineno, colno = _where(text, pos)
    raise JsonLimitError(
        f"JSON nested deeper than {max_depth} levels{where}; a pipeline document is never nested that deep",
        kind="depth",
        pos=pos,
        lineno=lineno,
        colno=colno,
    )


def _to_text(data: str | bytes | bytearray) -> tuple[str, bytes]:
    """(text, its UTF-8 bytes). Bytes are decoded as json detects them (UTF-8, with BOM, UTF-16/32)."""
    if isinstance(data, str):
        try:
            return data, data.encode("utf-8")
        except UnicodeEncodeError as exc:
            where, lineno, colno = _where(data, exc.start)
            raise JsonLimitError(
                f"text holds an unpaired UTF-16 surrogate{where}, which is not a character",
                kind="surrogate",
                pos=exc.start,
                lineno=lineno,
                colno=colno,
            ) from None
    raw = bytes(data)
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise JsonLimitError(
            f"not {name} text: {exc.reason} at byte {exc.start}; save it as UTF-8",
            kind="encoding",
            pos=exc.start,
        ) from None
    if encoding != "utf-8":  # a BOM (decode() removed it, as json.loads does) or UTF-16/32
        raw = text.encode("utf-8")
    return text, raw


def _surrogate_path(value: Any) -> str | None:
    """JSON path of the first string (key or value) holding an unpaired UTF-16 surrogate."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None


def loads(
    text: str | bytes | bytearray,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
) -> Any:
    """Decode JSON like ``json.loads`` within limits; JsonLimitError names the problem and where.

    Syntax errors stay ``json.JSONDecodeError`` (also a ValueError), so callers that report line and
    column for those keep doing so.
    """
    if isinstance(text, str) and text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    decoded, raw = _to_text(text)
    _check_depth(decoded, raw, max_depth)
    numbers = raw.translate(_NUMBERS, b"+")
    long_digits = b"0" * (max_int_digits + 1) in numbers
    # An overflowing float has an exponent of 3+ digits ("0e000") or 309+ digits (a long digit run).
    decoder = _decoder(max_int_digits if long_digits else None, long_digits or b"0e000" in numbers)
    try:
        value = decoder.decode(decoded)
    except _Refused as exc:
        raise _refusal(decoded, exc, max_int_digits) from None
    except json.JSONDecodeError:
        raise
    except RecursionError:  # not expected after the depth check; never let it escape as a crash
        raise JsonLimitError(
            f"JSON nested too deep to decode (the limit is {max_depth} levels)", kind="depth"
        ) from None
    except ValueError as exc:  # e.g. Python's own int conversion limit: still a limit, not a crash
        raise JsonLimitError(f"JSON value out of range: {exc}", kind="integer") from None
    if b"\\" in raw and _SURROGATE_ESCAPE.search(raw):
        path = _surrogate_path(value)
        if path is not None:
            shown = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", path) or "(root)"
            raise JsonLimitError(
                f"text at {shown} holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), "
                "which is not a character and cannot be stored as UTF-8",
                kind="surrogate",
            )
    return value


@functools.lru_cache(maxsize=32)
def _decoder(max_int_digits: int | None, check_floats: bool) -> json.JSONDecoder:
    """A decoder with only the hooks a document needs (each hook is a Python call per literal)."""
    hooks: dict[str, Any] = {"parse_constant": _refuse_constant}
    if max_int_digits is not None:
        limit = max_int_digits

        def parse_int(literal: str) -> int:
            if len(literal) - literal.startswith("-") > limit:
                raise _Refused("integer", literal)
            return int(literal)

        hooks["parse_int"] = parse_int
    if check_floats:
        hooks["parse_float"] = _parse_float
    return json.JSONDecoder(**hooks)


def _refuse_constant(literal: str) -> Any:
    raise _Refused("constant", literal)


def _parse_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _Refused("float", literal)
    return value


def _refusal(text: str, exc: _Refused, max_int_digits: int) -> JsonLimitError:
    literal = exc.literal
    boundary_before, boundary_after = r"(?<![0-9.eE+\-\w])", r"(?![0-9.eE\w])"
    pos = _first_outside_strings(text, boundary_before + re.escape(literal) + boundary_after)
    where, lineno, colno = _where(text, pos)
    if exc.kind == "integer":
        digits = len(literal) - literal.startswith("-")
        message = (
            f"integer with {digits} digits{where} is longer than the {max_int_digits} digits allowed; "
            "write large numbers as text"
        )
    elif exc.kind == "float":
        shown = literal if len(literal) <= 40 else literal[:37] + "..."
        message = f"number {shown}{where} is too large for a float (it would be infinite)"
    else:
        message = f"{literal}{where} is not a JSON value (JSON has no NaN or Infinity); use null or a number"
    return JsonLimitError(message, kind=exc.kind, pos=pos, lineno=lineno, colno=colno)
