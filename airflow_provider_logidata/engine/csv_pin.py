"""One CSV sniff per task: ``read_csv`` with the sniffed dialect and column types written out.

DuckDB sniffs a CSV file (dialect, header, column types, date formats: a 20,480-row sample) every time a
query over ``read_csv(...)`` is bound, and a task binds its source many times: each view stacked over it,
each ``DESCRIBE``, the final ``COPY``. Measured on the benchmark's 5 M-row file: about 30 ms a bind
against 1.5 ms with the types given, a dozen binds in a fused path (about 0.35 s of a 0.7 s task at
200,000 rows). So the file is sniffed once with DuckDB's own ``sniff_csv`` (the same options), and the
source reads it with ``auto_detect=false`` and everything the sniff found spelled out, as the ``Prompt``
``sniff_csv`` returns does. The pinned call is used only when it reads the same columns and types as
the sniffing one; anything unexpected keeps the sniffing call (slower, never different).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.engine import duck
from airflow_provider_logidata.engine.sql import quote_literal

if TYPE_CHECKING:
    from collections.abc import Sequence

# How sniff_csv shows an empty character and the line endings it detects (as written in its Prompt).
_EMPTY = "(empty)"
_NEW_LINES = ("\\n", "\\r\\n", "\\r")
_SNIFFED = (
    "Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, Columns, DateFormat, "
    "TimestampFormat"
)


def pinned_read(
    con: duckdb.DuckDBPyConnection, file_literal: str, options: Sequence[str], sniffing_call: str
) -> str | None:
    """``read_csv(<file>, auto_detect=false, ...)`` for one file, or ``None`` to keep ``sniffing_call``.

    ``options``: the node's ``read_csv`` options (``name=value`` SQL), passed to the sniff as well, so
    it sniffs exactly what the sniffing call would.
    """
    try:
        sniff = f"sniff_csv({', '.join([file_literal, *options])})"
        row = con.execute(f"SELECT {_SNIFFED} FROM {sniff}").fetchone()
    except duckdb.Error:
        return None  # the sniffing call reports the file's problem with the usual message
    if row is None:
        return None
    sniffed = dict(zip([name.strip() for name in _SNIFFED.split(",")], row, strict=True))
    written = _written_out(sniffed)
    if written is None:
        return None
    # The node's own options but those the sniff wrote out (it was given them: the same values).
    keys = {item.split("=", 1)[0] for item in written}
    kept = [item for item in options if item.split("=", 1)[0].strip() not in keys]
    pinned = f"read_csv({', '.join([f'[{file_literal}]', 'auto_detect=false', *written, *kept])})"
    try:
        same = duck.describe(con, pinned) == duck.describe(con, sniffing_call)
    except duckdb.Error:
        return None
    return pinned if same else None


def _written_out(sniffed: dict[str, Any]) -> list[str] | None:
    """What the sniff found as ``read_csv`` options, or ``None`` when a value is not one understood."""
    columns = sniffed["Columns"]
    if not isinstance(columns, list) or not columns:
        return None
    pairs = []
    for column in columns:
        if not isinstance(column, dict) or not column.get("name") or not column.get("type"):
            return None
        pairs.append(f"{quote_literal(str(column['name']))}: {quote_literal(str(column['type']))}")
    new_line = sniffed["NewLineDelimiter"]
    if new_line not in _NEW_LINES:
        return None
    written = [
        f"delim={quote_literal(_char(sniffed['Delimiter']))}",
        f"quote={quote_literal(_char(sniffed['Quote']))}",
        f"escape={quote_literal(_char(sniffed['Escape']))}",
        f"new_line={quote_literal(new_line)}",
        f"comment={quote_literal(_char(sniffed['Comment']))}",
        f"skip={int(sniffed['SkipRows'])}",
        f"header={'true' if sniffed['HasHeader'] else 'false'}",
        "columns={" + ", ".join(pairs) + "}",
    ]
    if sniffed["DateFormat"]:
        written.append(f"dateformat={quote_literal(str(sniffed['DateFormat']))}")
    if sniffed["TimestampFormat"]:
        written.append(f"timestampformat={quote_literal(str(sniffed['TimestampFormat']))}")
    return written


def _char(value: Any) -> str:
    text = "" if value is None else str(value)
    return "" if text == _EMPTY else text
