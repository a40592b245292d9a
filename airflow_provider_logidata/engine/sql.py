"""SQL text helpers shared by every SQL builder.

Column names are user data: a column may be called ``x"; drop table t; --``. Every identifier that reaches
SQL goes through :func:`quote_ident` and every string value through :func:`quote_literal`; no builder
formats user text into SQL any other way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# ``select_columns`` cast names -> DuckDB types. ``decimal`` is DECIMAL(38, 9): the widest exact decimal
# DuckDB stores natively (38 digits) with 9 after the point, the same as BigQuery's NUMERIC, so money and
# measured quantities keep their digits and a cast never overflows below 10^29.
CAST_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38,9)",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

_NUMERIC_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
    }
)
_TEMPORAL_TYPES = frozenset({"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS"})

# Column list of a relation: (name, DuckDB type text), in order.
Columns = list[tuple[str, str]]


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB/PostgreSQL: wrap in double quotes, double any inner quote."""
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL characters")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal: wrap in single quotes, double any inner quote (no backslash escapes)."""
    if "\x00" in value:
        raise ValueError("string literals cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def literal_list(values: Sequence[str]) -> str:
    """A DuckDB list literal of strings, e.g. ``['a', 'b']``."""
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


def is_text(duck_type: str) -> bool:
    return duck_type.upper() == "VARCHAR" or duck_type.upper().startswith("VARCHAR(")


def is_numeric(duck_type: str) -> bool:
    upper = duck_type.upper()
    return upper in _NUMERIC_TYPES or upper.startswith("DECIMAL")


def is_temporal(duck_type: str) -> bool:
    upper = duck_type.upper()
    return upper in _TEMPORAL_TYPES or upper.startswith("TIMESTAMP")


def column_names(columns: Columns) -> str:
    """Comma-separated column names for error messages."""
    return ", ".join(name for name, _ in columns) or "(none)"


def resolve_column(name: str, columns: Columns, *, owner: str, what: str = "column") -> tuple[str, str]:
    """Find ``name`` among ``columns``: exact match first, then a unique case-insensitive match.

    DuckDB matches identifiers case-insensitively, so accepting ``Amount`` for ``amount`` mirrors what a
    SQL condition would do; an ambiguous or missing name is an error naming the node (``owner``) and
    listing the columns that do exist.
    """
    for column in columns:
        if column[0] == name:
            return column
    folded = [column for column in columns if column[0].lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    if len(folded) > 1:
        raise LogiDataTaskError(
            f"{owner}: {what} {name!r} matches several input columns when case is ignored "
            f"({', '.join(c[0] for c in folded)}); use the exact name"
        )
    raise LogiDataTaskError(
        f"{owner}: unknown {what} {name!r}; input columns: {column_names(columns)}. "
        "Fix the name in the node's config or the data upstream."
    )


def check_distinct_outputs(outputs: Iterable[str], *, owner: str) -> None:
    """Refuse two output columns whose names differ only in case (DuckDB and PostgreSQL would clash)."""
    seen: dict[str, str] = {}
    for output in outputs:
        if output.lower() in seen:
            raise LogiDataTaskError(
                f"{owner}: output column {output!r} would appear twice (as {seen[output.lower()]!r} and "
                f"{output!r}); rename one of them"
            )
        seen[output.lower()] = output


def unique_name(base: str, columns: Columns) -> str:
    """A helper-column name that collides with no input column (compared case-insensitively)."""
    taken = {name.lower() for name, _ in columns}
    name = base
    while name.lower() in taken:
        name += "_"
    return name
