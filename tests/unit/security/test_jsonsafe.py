"""Bounded JSON decoding: every limit refused with its kind and position, everything else as json.loads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_logidata.security.jsonsafe import JsonLimitError, loads


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# (name, text, kind, line, column): the limit broken, where the offending token starts.
REFUSED: list[tuple[str, str, str, int | None, int | None]] = [
    ("65 arrays", nested(65), "depth", 1, 65),
    ("65 objects", nested_objects(65), "depth", 1, 5 * 64 + 1),
    ("100,000 deep", nested(100_000), "depth", 1, 65),
    ("100,000 unclosed", "[" * 100_000, "depth", 1, 65),
    ("deep after an escaped quote", '["\\"", ' + nested(70) + "]", "depth", 1, 71),
    ("deep after an escaped backslash", '["\\\\", ' + nested(70) + "]", "depth", 1, 71),
    ("deep after escapes and brackets in a string", '["\\\\\\"[[[[", ' + nested(70) + "]", "depth", 1, 77),
    ("deep on line 3", '{\n  "a":\n  ' + nested(80) + "\n}", "depth", 3, 66),  # the object is level 1
    ("41-digit integer", '{"a":\n [' + "9" * 41 + "]}", "integer", 2, 3),
    ("41-digit negative integer", "[-" + "9" * 41 + "]", "integer", 1, 2),
    ("4,300-digit integer", "[" + "1" * 4300 + "]", "integer", 1, 2),
    ("5,000-digit integer", '{"x": ' + "7" * 5000 + "}", "integer", 1, 7),
    ("NaN", '{"x": NaN}', "constant", 1, 7),
    ("Infinity", "[1, Infinity]", "constant", 1, 5),
    ("-Infinity", "[-Infinity]", "constant", 1, 2),
    ("NaN after the same word in a string", '["NaN", NaN]', "constant", 1, 9),
    ("float overflow", "[1e400]", "float", 1, 2),
    ("negative float overflow", '{"a": -1E+400}', "float", 1, 7),
    ("309 integer digits as a float", "[" + "9" * 309 + ".0]", "float", 1, 2),
    ("unpaired high surrogate", '["\\ud800"]', "surrogate", None, None),
    ("unpaired low surrogate as a key", '{"\\udc00": 1}', "surrogate", None, None),
    ("reversed surrogate pair", '{"a": ["x\\udc00\\ud800"]}', "surrogate", None, None),
]


@pytest.mark.parametrize(("name", "text", "kind", "line", "column"), REFUSED, ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_refused(
    name: str, text: str, kind: str, line: int | None, column: int | None, as_bytes: bool
) -> None:
    with pytest.raises(JsonLimitError) as info:
        loads(text.encode() if as_bytes else text)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.kind == kind
    assert (error.lineno, error.colno) == (line, column)
    message = str(error)
    if line is not None:
        assert f"line {line} column {column}" in message
    assert len(message) < 300  # never echoes a 5,000-digit literal back


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (nested(65), ["deeper than 64 levels"]),
        ("[" + "1" * 50 + "]", ["50 digits", "40 digits", "as text"]),
        ("[NaN]", ["NaN", "null"]),
        ("[1e999]", ["1e999", "infinite"]),
        ('["\\ud800"]', ["[0]", "surrogate"]),
    ],
)
def test_messages_say_what_and_how_to_fix(text: str, words: list[str]) -> None:
    with pytest.raises(JsonLimitError) as info:
        loads(text)
    for word in words:
        assert word in str(info.value)


def test_limits_are_parameters() -> None:
    assert loads(nested(10), max_depth=10) == json.loads(nested(10))
    with pytest.raises(JsonLimitError):
        loads(nested(11), max_depth=10)
    assert loads("[12345]", max_int_digits=5) == [12345]
    with pytest.raises(JsonLimitError):
        loads("[123456]", max_int_digits=5)


ACCEPTED: list[tuple[str, str]] = [
    ("64 arrays", nested(64)),
    ("64 objects", nested_objects(64)),
    ("brackets inside strings", json.dumps({"sql": "[" * 1000 + "{" * 1000, "b": ["]]]]"]})),
    ("escaped quotes and brackets in strings", json.dumps(['a "[[[[" b', "\\", '\\"{{{{'] * 50)),
    ("40-digit integer", "[" + "9" * 40 + ", -" + "9" * 40 + "]"),
    ("long digit string", json.dumps({"id": "1" * 5000})),
    ("float with a long fraction", "[1." + "0" * 60 + "1]"),
    ("largest float", "[1.7976931348623157e308]"),
    ("float underflow is zero", "[1e-400]"),
    ("exponents", "[1e10, 2E+20, 3e-5, 4.5e100]"),
    ("NaN and Infinity as text", '["NaN", "Infinity", "-Infinity"]'),
    ("surrogate pair", '["\\ud83d\\ude00", {"\\ud83d\\ude00": "\\uD83D\\uDE00"}]'),
    ("unicode", json.dumps({"ñ": "é 日本 🎉"}, ensure_ascii=False)),
    ("scalars", "true"),
    ("empty containers", '{"a": [], "b": {}}'),
    ("backslash before a quote ending a string", json.dumps(["a\\", ["b"]])),
]


@pytest.mark.parametrize(("name", "text"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_exactly_as_json_loads(name: str, text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1,]", '{"a" 1}', '["abc', '["abc' + "[" * 100, "{'a': 1}", "[1] [2]", "nul"],
)
def test_syntax_errors_stay_json_decode_errors(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        loads(text)
    assert not isinstance(info.value, JsonLimitError)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": "\xc3"}', "not UTF-8 text: invalid continuation byte at byte 7"),
        (b'["\xff"]', "not UTF-8 text: invalid start byte at byte 2"),
        (b'["\xed\xa0\x80"]', "not UTF-8 text"),  # an encoded surrogate: json.loads would accept it
    ],
)
def test_invalid_utf8(data: bytes, message: str) -> None:
    with pytest.raises(JsonLimitError) as info:
        loads(data)
    assert info.value.kind == "encoding"
    assert message in str(info.value)


def test_encodings_json_itself_detects() -> None:
    doc: dict[str, Any] = {"a": ["é", 1]}
    assert loads(b"\xef\xbb\xbf" + json.dumps(doc).encode()) == doc  # UTF-8 with a BOM
    assert loads(json.dumps(doc).encode("utf-16")) == doc
    with pytest.raises(json.JSONDecodeError, match="BOM"):
        loads("\ufeff[1]")  # as json.loads: a str with a BOM is an error


def test_raw_surrogate_in_text() -> None:
    with pytest.raises(JsonLimitError) as info:
        loads('{"a": "x\ud800"}')
    assert (info.value.kind, info.value.lineno, info.value.colno) == ("surrogate", 1, 9)


def test_binary_garbage_is_an_error_not_a_crash() -> None:
    for data in (bytes(range(256)), b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + bytes(200)):
        with pytest.raises(ValueError):
            loads(data)


# ------------------------------------------------------------------------------ property: same as json

# Text full of what the fast scans look at: quotes, backslashes, brackets, digits, "e", "\\u".
TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('"\\[]{}0123456789eE+-.u dD8NaI/ñ🎉')), max_size=20)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**39), 10**39)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TRICKY_TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


def wrap(value: Any, levels: int, keys: list[str]) -> Any:
    for level in range(levels):
        value = {keys[level % len(keys)]: value} if level % 2 else [keys[level % len(keys)], value]
    return value


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(VALUES, st.booleans(), st.sampled_from([None, 2]))
def test_same_result_as_json_loads(value: Any, ascii_only: bool, indent: int | None) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(VALUES, st.integers(50, 80), st.lists(TRICKY_TEXT, min_size=1, max_size=3))
def test_depth_refused_exactly_when_too_deep(value: Any, levels: int, keys: list[str]) -> None:
    """Strings full of quotes, escapes and brackets never hide or fake nesting."""
    document = wrap(value, levels, keys)
    text = json.dumps(document)
    if depth_of(document) > 64:
        with pytest.raises(JsonLimitError) as info:
            loads(text)
        assert info.value.kind == "depth"
    else:
        assert loads(text) == document
