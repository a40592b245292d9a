"""``source.http_api`` records as rows: JSON paths, flattening, column kinds, and the local spool.

Pure functions over parsed JSON (no HTTP): the reader (``engine.http_reader``) finds the records of a
page with :func:`json_path_get`; :class:`RecordSpool` flattens them to disk while the column types are
still unknown and reads them back as Arrow batches once every page is in (``engine.http_api``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
VALUE_COLUMN = "value"


class PathNotFound(LookupError):
    """A dotted path does not exist in a JSON document; says where it stopped and what was there."""

    def __init__(self, segment: str, parent: str, found: Any) -> None:
        self.segment = segment
        self.parent = parent
        self.found = found
        super().__init__(segment)

    def describe(self) -> str:
        where = f"under {self.parent!r}" if self.parent else "at the top level"
        if isinstance(self.found, dict):
            keys = ", ".join(map(str, list(self.found)[:50])) or "(none: an empty object)"
            return f"no key {self.segment!r} {where}; keys there: {keys}"
        if isinstance(self.found, list):
            return f"{where} is a list of {len(self.found)} item(s), which has no item {self.segment!r}"
        return f"{where} is {json_kind(self.found)}, which has no key {self.segment!r}"


def json_path_get(document: Any, path: str) -> Any:
    """The value at dotted ``path`` (``data.items``, ``results.0.rows``); raises ``PathNotFound``."""
    current = document
    walked: list[str] = []
    for segment in path.split(".") if path else []:
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            raise PathNotFound(segment, ".".join(walked), current)
        walked.append(segment)
    return current


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def top_level_keys(document: Any) -> str:
    if isinstance(document, dict):
        return ", ".join(map(str, list(document)[:50])) or "(none: an empty object)"
    return f"(none: the response is {json_kind(document)})"


def flatten_record(record: Any) -> dict[str, Any]:
    """One record as a flat row: nested objects become ``parent.child`` keys, arrays become JSON text."""
    if not isinstance(record, dict):
        return {VALUE_COLUMN: _leaf(record)}
    row: dict[str, Any] = {}
    _flatten_into(record, "", row)
    return row


def _flatten_into(obj: dict[str, Any], prefix: str, row: dict[str, Any]) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten_into(value, f"{name}.", row)  # an empty object adds no column
        else:
            row[name] = _leaf(value)


def _leaf(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


# Column kinds, widened as values arrive: null < bool; null < int < double; any other mix is text.
NULL, BOOL, INT, DOUBLE, STRING = "null", "bool", "int", "double", "string"


def value_kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT if INT64_MIN <= value <= INT64_MAX else STRING
    if isinstance(value, float):
        return DOUBLE
    return STRING


def widen(current: str, new: str) -> str:
    if current == new or new == NULL:
        return current
    if current == NULL:
        return new
    if {current, new} == {INT, DOUBLE}:
        return DOUBLE
    return STRING


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {BOOL: pa.bool_(), INT: pa.int64(), DOUBLE: pa.float64()}.get(kind, pa.string())


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- spool: pages on local disk while the schema is still unknown ---------------------------------------


class RecordSpool:
    """Flattened records appended as JSON lines to a local file, with the column kinds seen so far."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, "records.jsonl")
        self.kinds: dict[str, str] = {}
        self.rows = 0
        self._out: TextIO | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish

    def add(self, records: list[Any]) -> None:
        assert self._out is not None, "spool already finished"
        kinds = self.kinds
        lines = []
        for record in records:
            row = flatten_record(record)
            for name, value in row.items():
                kind = value_kind(value)
                known = kinds.get(name)
                if known is None:
                    kinds[name] = kind
                elif known != kind:
                    kinds[name] = widen(known, kind)
            lines.append(json.dumps(row, ensure_ascii=False, allow_nan=True))
        if lines:
            self._out.write("\n".join(lines))
            self._out.write("\n")
        self.rows += len(records)

    def finish(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(name, _arrow_type(kind)) for name, kind in self.kinds.items()])

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The spooled records as Arrow batches of ``batch_rows`` rows with the final schema."""
        self.finish()
        schema = self.schema()
        with open(self.path, encoding="utf-8") as spool:
            chunk: list[dict[str, Any]] = []
            for line in spool:
                chunk.append(json.loads(line))
                if len(chunk) >= batch_rows:
                    yield self._to_batch(chunk, schema)
                    chunk = []
            if chunk:
                yield self._to_batch(chunk, schema)

    def _to_batch(self, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
        import pyarrow as pa

        arrays = []
        for name, kind in self.kinds.items():
            values = [row.get(name) for row in rows]
            if kind in (STRING, NULL):
                values = [_as_text(value) for value in values]
            arrays.append(pa.array(values, type=_arrow_type(kind)))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
