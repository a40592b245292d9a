"""What an ELT builder may ask of the database it compiles for: the SQL dialect.

A module's ELT builder (``ModuleDef.elt``, in ``modules/transforms/<name>.py``) is written once, against
this interface, and mirrors the module's DuckDB builder: same rows, types, nulls and check outcomes.
Everything that differs between databases lives in one dialect file (``dialects/postgres.py``):

- **text**: identifiers, literals, casts, type names as the database describes a column;
- **DuckDB's semantics where the database differs**: text ordered by code point, ``upper``/``lower``
  one code point to one, ``TRY_CAST``, the DOUBLE-to-DECIMAL cast, ``strptime``, a median;
- **translation** of the user's DuckDB expressions (conditions, derived columns) through sqlglot into the
  dialect's SQL (``sqlglot``: sqlglot's name for it), checked by the SQL policy before they run;
- **statements** a builder runs while compiling: binding a SELECT without running it (``probe``), small
  read-only queries, temporary tables and helper functions that live until the load commits.

Supporting a second warehouse is one more file implementing this class, registered in
``dialects/__init__.py``; the builders do not change. Only PostgreSQL is implemented and tested.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.engine.elt_context import Described, EltContext


class SqlDialect(ABC):
    name: str  # the key modules and connections use ("postgres")
    label: str  # in messages ("PostgreSQL")
    sqlglot: str  # sqlglot's dialect name: user expressions are written in it
    double: str  # DuckDB's DOUBLE
    date: str  # DuckDB's DATE
    timestamp: str  # DuckDB's TIMESTAMP (no time zone)
    text: str  # DuckDB's VARCHAR
    re2: bool = False  # its regular expressions read patterns as RE2 (DuckDB's) does
    materialized: str  # what makes a CTE computed once, so that every read of it sees the same rows

    # --- text ---------------------------------------------------------------------------------------

    @abstractmethod
    def ident(self, name: str) -> str:
        """An identifier, quoted: column names are user data."""

    @abstractmethod
    def literal(self, text: str) -> str:
        """A string literal, quoted."""

    def cast(self, sql: str, type_sql: str) -> str:
        return f"CAST({sql} AS {type_sql})"

    def count_where(self, condition: str) -> str:
        """An aggregate counting the rows where ``condition`` is true."""
        return f"count(*) FILTER (WHERE {condition})"

    # --- types, as ``describe`` names a column's ----------------------------------------------------

    @abstractmethod
    def base_type(self, type_sql: str) -> str:
        """The type without its parameters, lower case (``numeric(10,2)`` -> ``numeric``)."""

    @abstractmethod
    def is_text(self, type_sql: str) -> bool: ...

    @abstractmethod
    def is_integer(self, type_sql: str) -> bool: ...

    @abstractmethod
    def is_numeric(self, type_sql: str) -> bool:
        """Integers, floats and decimals."""

    @abstractmethod
    def is_decimal(self, type_sql: str) -> bool: ...

    @abstractmethod
    def is_boolean(self, type_sql: str) -> bool: ...

    @abstractmethod
    def is_temporal(self, type_sql: str) -> bool:
        """Dates and timestamps, with or without a time zone."""

    @abstractmethod
    def is_zoned(self, type_sql: str) -> bool:
        """A timestamp with a time zone."""

    @abstractmethod
    def is_plain_timestamp(self, type_sql: str) -> bool:
        """DuckDB's TIMESTAMP: no time zone."""

    @abstractmethod
    def decimal_scale(self, type_sql: str) -> int | None:
        """The scale of a decimal type with one (``numeric(10,2)`` -> 2), else ``None``."""

    @abstractmethod
    def duck_text(self, sql: str, type_sql: str) -> str | None:
        """A value as text exactly as DuckDB's ``CAST(... AS VARCHAR)`` writes it, or ``None`` when this
        database could write it differently (floats, binary)."""

    @abstractmethod
    def from_duck(self, duck_type: str) -> str:
        """This database's type for a DuckDB cast target (``engine.sql.CAST_TYPES``' values)."""

    @abstractmethod
    def same_type(self, type_sql: str, target: str) -> bool:
        """Whether a column of ``type_sql`` already is of ``target`` (a cast would change nothing)."""

    @abstractmethod
    def exact_cast(self, type_sql: str, duck_target: str) -> bool:
        """Whether this database's own ``CAST`` of a ``type_sql`` column to the DuckDB type
        ``duck_target`` converts every value as DuckDB's does."""

    @abstractmethod
    def type_for(self, arrow_type: pa.DataType) -> str:
        """The column type the ETL load would create for an Arrow type: ELT creates the same table."""

    # --- DuckDB's semantics ---------------------------------------------------------------------------

    @abstractmethod
    def ordered(self, sql: str, type_sql: str) -> str:
        """``sql`` as DuckDB orders and compares it: text by code point."""

    @abstractmethod
    def utc(self, sql: str) -> str:
        """A timestamp with a time zone as DuckDB casts it to TIMESTAMP: its UTC wall time."""

    @abstractmethod
    def median(self, sql: str) -> str:
        """DuckDB's ``median`` of a DOUBLE expression: the mean of the middle values (an aggregate)."""

    @abstractmethod
    def regexp_replace_all(self, text_sql: str, pattern: str, replacement: str) -> str:
        """Every match of the regular expression ``pattern`` (a Python string) replaced."""

    @abstractmethod
    def title_case(self, sql: str, tokens: str, upper: str, lower: str) -> str:
        """``sql`` split into the matches of the regular expression ``tokens``, each with its first
        character through the function ``upper`` and the rest through ``lower``, joined in order."""

    @abstractmethod
    def boolean_min_max(self, function: str, sql: str) -> str:
        """DuckDB's ``min`` or ``max`` (``function``) of a boolean (false < true): an aggregate."""

    @abstractmethod
    def keyed_lookup(self, mapping: dict[str, str | None], key_sql: str, result: str, otherwise: str) -> str:
        """One lookup per row in a large mapping: the value of the entry whose key is ``key_sql`` (a text)
        cast to ``result``, else ``otherwise``."""

    @abstractmethod
    def try_cast(self, ctx: EltContext, text_sql: str, target: str) -> str:
        """DuckDB's ``TRY_CAST`` of a text to ``target``: null when it cannot."""

    @abstractmethod
    def case_function(self, ctx: EltContext, kind: str) -> str:
        """A function of one text doing DuckDB's ``upper`` or ``lower`` (``kind``)."""

    @abstractmethod
    def double_to_decimal(self, ctx: EltContext) -> str:
        """A function ``f(double, scale)`` doing DuckDB's DOUBLE-to-DECIMAL cast (rounding on the double)."""

    @abstractmethod
    def strptime_refusal(self, formats: list[str]) -> str | None:
        """Why DuckDB's ``strptime`` of these formats cannot be done here, or ``None``."""

    @abstractmethod
    def strptime(self, ctx: EltContext, formats: list[str]) -> str:
        """A function of one trimmed text doing DuckDB's ``try_strptime`` with ``formats`` (first match)."""

    # --- user expressions -------------------------------------------------------------------------------

    @abstractmethod
    def translate(self, ctx: EltContext, expression: str, relation: str | None = None, what: str = "") -> str:
        """A checked DuckDB expression in this dialect (through sqlglot), with DuckDB's semantics where the
        two differ; given the ``relation`` it reads (aliased ``s``), checked by the SQL policy first.
        An expression it cannot translate is ``ctx.error`` naming ``what``."""

    @abstractmethod
    def expression_refusal(self, expression: str, what: str) -> str | None:
        """Why a DuckDB expression (named ``what``) cannot mean the same here, or ``None``; asked while
        the DAG processor parses, so a light text check."""

    @abstractmethod
    def check(self, ctx: EltContext, sql: str, what: str) -> None:
        """Refuse (``ctx.error``) SQL the policy does not let run on the database."""

    # --- statements while compiling ----------------------------------------------------------------------

    @abstractmethod
    def describe(self, con: Any, select: str, owner: str) -> list[Described]:
        """A SELECT's columns without running it."""

    @abstractmethod
    def probe(self, con: Any, select: str) -> str | None:
        """Bind a SELECT without running it: the database's complaint, or ``None``."""

    @abstractmethod
    def rows(self, con: Any, query: str) -> list[tuple[Any, ...]] | str:
        """A small read-only query's rows, or the database's complaint."""

    @abstractmethod
    def temp_table(self, con: Any, name: str, select: str) -> tuple[str, str]:
        """Materialise ``select`` until the load commits: (its relation, the statement run)."""

    @abstractmethod
    def function(self, con: Any, name: str, create: str | None) -> str:
        """A helper function's qualified name, created by ``create`` until the session ends (``None``:
        created already in this session)."""
