"""JSON-safe cells for previews and profiles.

A browser grid needs every cell as plain JSON: dates become ISO 8601 text, decimals keep their digits as
strings (a JSON number would round them in JavaScript), binary and very long text are shortened visibly so
one wide column cannot make a preview megabytes large, and NaN/Infinity (invalid in JSON) become strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_TEXT = 200
ELLIPSIS = "…"


@dataclass
class CellEncoder:
    """Encodes cells and counts how many were shortened (the preview reports ``truncated_cells``)."""

    max_text: int = MAX_TEXT
    truncated: int = 0

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return _float(value)
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, bytes | bytearray | memoryview):
            self.truncated += 1
            return f"<binary {len(bytes(value))} bytes>"
        if isinstance(value, decimal.Decimal):
            return str(value) if value.is_finite() else _special(value)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return _duration(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, dict):
            return {str(key): self.encode(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            # Arrow maps come back as lists of (key, value) tuples; a JSON list of pairs keeps them readable.
            return [self.encode(item) for item in value]
        return self._text(str(value))

    def _text(self, value: str) -> str:
        if len(value) <= self.max_text:
            return value
        self.truncated += 1
        return value[: self.max_text] + ELLIPSIS


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _special(value: decimal.Decimal) -> str:
    if value.is_nan():
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _duration(value: dt.timedelta) -> str:
    """ISO 8601 duration (``P1DT2H3M4.5S``), the form JavaScript libraries parse."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    days = value.days
    seconds = value.seconds + value.microseconds / 1_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}P{days}DT{int(hours)}H{int(minutes)}M{secs:g}S"
    return text


def encode_cell(value: Any) -> Any:
    """One JSON-safe cell (long text shortened to 200 characters + "…")."""
    return CellEncoder().encode(value)


def encode_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[list[Any]], int]:
    """Row-major JSON-safe rows and the number of cells shortened."""
    encoder = CellEncoder()
    encoded = [[encoder.encode(cell) for cell in row] for row in rows]
    return encoded, encoder.truncated


def encode_float(value: float | None) -> float | None:
    """A statistic as a JSON number, or None when it is not finite (a mean over Infinity has no number)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
