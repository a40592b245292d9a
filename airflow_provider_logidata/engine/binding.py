"""DuckDB binding, literal and row-number helpers shared by transform builders (``modules/transforms/``).

Row order is deterministic everywhere: joins keep the left input's order (a right join the right's), a
sort is stable, aggregates are sorted by their keys, unions stack the inputs in order, quarantined rows
keep their input order. Every identifier goes through ``quote_ident``, every text through
``quote_literal``; user SQL (expressions, conditions, queries) is parsed and checked by
``engine.conditions`` and regenerated from the checked tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import sqlglot
from sqlglot import exp

from airflow_provider_logidata.engine.conditions import DIALECT
from airflow_provider_logidata.engine.files import describe_error
from airflow_provider_logidata.engine.sql import (
    Columns,
    is_numeric,
    is_temporal,
    is_text,
    quote_ident,
    quote_literal,
    resolve_column,
)
from airflow_provider_logidata.engine.transforms import EXAMPLES, TransformContext

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.modules.base import Value


ROW_NUMBER = "__logidata_row"


# --- shared helpers -------------------------------------------------------------------------------------


def bind(ctx: TransformContext, sql: str, *, what: str, fix: str) -> Columns:
    """Have DuckDB bind ``sql`` now (types, functions) and return its columns; errors name ``what``."""
    try:
        rows = ctx.rows(f"DESCRIBE {sql}")
    except duckdb.Error as error:
        raise ctx.error(f"DuckDB rejects {what}: {describe_error(error)}; {fix}") from None
    return [(str(row[0]), str(row[1])) for row in rows]


def numbered(relation: str, row: str) -> str:
    """``relation`` with its rows numbered in input order (DuckDB preserves insertion order)."""
    return f"(SELECT *, row_number() OVER () AS {quote_ident(row)} FROM {relation})"


def find_column(name: str, columns: Columns, *, owner: str) -> tuple[str, str] | None:
    """Like ``resolve_column`` (exact, then unique case-insensitive match) but ``None`` when absent."""
    if not any(column.lower() == name.lower() for column, _ in columns):
        return None
    return resolve_column(name, columns, owner=owner)


def value_text(value: Value) -> str:
    """A config value as DuckDB reads it from text (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def unfit_texts(ctx: TransformContext, texts: Sequence[str], duck_type: str) -> list[str]:
    """Up to five of ``texts`` that DuckDB cannot read as ``duck_type`` (one query over all of them)."""
    if not texts:
        return []
    rows = ", ".join(f"({quote_literal(text)})" for text in texts)
    return [
        str(row[0])
        for row in ctx.rows(
            f"SELECT v FROM (VALUES {rows}) AS t(v) WHERE TRY_CAST(v AS {duck_type}) IS NULL LIMIT {EXAMPLES}"
        )
    ]


def typed_literals(
    ctx: TransformContext, values: Sequence[Value], column: str, duck_type: str, *, what: str
) -> list[str]:
    """SQL literals of ``values`` in the column's type; values that do not fit fail with examples.

    Text columns compare with text literals; other types cast the text form (``'2024-01-31'`` to a DATE,
    ``'1'`` to a BIGINT), checked with one ``TRY_CAST`` query over all values.
    """
    texts = [value_text(value) for value in values]
    if is_text(duck_type):
        return [quote_literal(text) for text in texts]
    bad = unfit_texts(ctx, texts, duck_type)
    if bad:
        raise ctx.error(
            f"{what} {', '.join(repr(text) for text in bad)} cannot be read as {duck_type}, the type of "
            f"column {column!r}; use values of that type"
        )
    return [f"CAST({quote_literal(text)} AS {duck_type})" for text in texts]


def _type_family(duck_type: str) -> str:
    if is_numeric(duck_type):
        return "number"
    if is_text(duck_type):
        return "text"
    if is_temporal(duck_type):
        return "date/time"
    return duck_type.upper()


# Functions whose value changes between two queries: a condition using one would route a row
# differently in each output, so such a condition is evaluated once and materialised.
_VOLATILE = frozenset(
    {
        "random",
        "rand",
        "uuid",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "nextval",
        "now",
        "current_timestamp",
        "current_date",
        "current_time",
        "currenttimestamp",
        "currentdate",
        "currenttime",
        "get_current_timestamp",
        "get_current_time",
        "today",
        "localtimestamp",
        "localtime",
        "transaction_timestamp",
    }
)


def is_volatile(sql: str) -> bool:
    """Whether checked SQL calls a function whose value differs between queries (random, now, ...)."""
    for node in sqlglot.parse_one(sql, read=DIALECT).walk():
        if isinstance(node, exp.Rand):
            return True
        if isinstance(node, exp.Func):
            name = str(node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _VOLATILE:
                return True
    return False


__all__ = [
    "ROW_NUMBER",
    "bind",
    "find_column",
    "is_volatile",
    "numbered",
    "typed_literals",
    "unfit_texts",
    "value_text",
]
