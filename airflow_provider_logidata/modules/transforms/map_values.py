"""map_values: replace values through a lookup table typed in the config (codes to labels, synonyms, ...).

Keys are read in the column's type; the result's type comes from the targets. The DuckDB and the
ELT builder share the lookup's shape (a CASE up to :data:`CASE_MAPPING_LIMIT` entries, what
unmapped values become, where the result goes); each dialect has its own lookup for larger mappings.
The ELT step takes its result type from the DuckDB builder (``engine.elt_types``), which
also runs DuckDB's checks of the keys and targets, with its messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import (
    NULLABLE_VALUE_SCHEMA,
    ColumnName,
    ModuleConfig,
    NewColumnName,
    Value,
)
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class MapValuesConfig(ModuleConfig):
    """Replace values through a lookup table typed in the config (codes to labels, synonyms, ...)."""

    column: ColumnName = Field(description="Column whose values are looked up.")
    mapping: dict[str, Value | None] = Field(
        min_length=1,
        max_length=10_000,
        description="From -> to. Keys are written as text and compared with the column's values in the "
        "column's type ('1' matches the number 1); targets are text, numbers, booleans or null.",
        json_schema_extra={"additionalProperties": NULLABLE_VALUE_SCHEMA},
    )
    default: Literal["keep", "null", "value"] = Field(
        "keep",
        description="For values not in the mapping (nulls included): keep them, make them null, or use "
        "default_value.",
    )
    default_value: Value | None = Field(
        None,
        description="The value for unmapped values, with default = value.",
        json_schema_extra=NULLABLE_VALUE_SCHEMA,
    )
    target_column: NewColumnName | None = Field(
        None, description="Write the result to this column (default: overwrite the looked-up column)."
    )

    @model_validator(mode="after")
    def _default_value(self) -> MapValuesConfig:
        if self.default == "value" and self.default_value is None:
            raise ValueError("default 'value' needs a default_value")
        if self.default != "value" and self.default_value is not None:
            raise ValueError(f"default_value is used only with default 'value' (default is {self.default!r})")
        return self


# Up to this many entries a mapping is a CASE (plain SQL, evaluated entry by entry); larger ones are one
# lookup per row: a DuckDB MAP (measured on 200k rows x 10k entries, 0.9 s instead of 7.6 s for the CASE
# chain), a PostgreSQL jsonb object searched by key.
CASE_MAPPING_LIMIT = 64


def _otherwise(config: MapValuesConfig, kept: str, result_type: str, literal: Callable[[Any], str]) -> str:
    """What an unmapped value (null included) becomes, per ``default``."""
    if config.default == "keep":
        return kept
    if config.default == "null":
        return f"CAST(NULL AS {result_type})"
    return literal(config.default_value)


def _lookup(column: str, pairs: list[tuple[str, str]], otherwise: str, larger: Callable[[], str]) -> str:
    """``pairs`` (typed key SQL, target SQL) as a CASE, or as the dialect's ``larger`` lookup."""
    if len(pairs) <= CASE_MAPPING_LIMIT:
        whens = " ".join(f"WHEN {key} THEN {target}" for key, target in pairs)
        return f"CASE {column} {whens} ELSE {otherwise} END"
    return larger()


def _target(
    ctx: TransformContext | EltContext, config: MapValuesConfig, columns: Columns, found: tuple[str, str]
) -> tuple[str, str] | None:
    """The column the result replaces (``found``, the looked-up one, by default); ``None``: a new one."""
    from airflow_provider_logidata.engine.binding import find_column

    if config.target_column:
        return find_column(config.target_column, columns, owner=ctx.owner)
    return found


# --- DuckDB ---------------------------------------------------------------------------------------------


def _value_type(values: Iterable[Value | None]) -> str | None:
    """The DuckDB type of a set of config values: BOOLEAN, BIGINT, DOUBLE or VARCHAR (None: no value)."""
    kinds = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("BOOLEAN")
        elif isinstance(value, int):
            kinds.add("BIGINT")
        elif isinstance(value, float):
            kinds.add("DOUBLE")
        else:
            kinds.add("VARCHAR")
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    return "DOUBLE" if kinds <= {"BIGINT", "DOUBLE"} else "VARCHAR"


def _value_literal(value: Value | None, duck_type: str) -> str:
    from airflow_provider_logidata.engine.binding import value_text
    from airflow_provider_logidata.engine.sql import quote_literal

    if value is None:
        return f"CAST(NULL AS {duck_type})"
    if duck_type == "VARCHAR":
        return quote_literal(value_text(value))
    return f"CAST({quote_literal(value_text(value))} AS {duck_type})"


def _map_lookup(
    ctx: TransformContext,
    pairs: list[tuple[str, str]],
    texts: list[str],
    column: str,
    duck_type: str,
    otherwise: str,
) -> str:
    """``pairs`` (typed key SQL, target SQL) as a MAP lookup; ``map_extract`` gives [] for a missing key.

    Keys that become equal once typed ('1' and '01' for a number) keep their first entry, as in a CASE.
    """
    from airflow_provider_logidata.engine.sql import is_text, quote_literal

    if not is_text(duck_type):
        rows = ", ".join(f"({i}, {quote_literal(text)})" for i, text in enumerate(texts))
        later = {
            int(row[0])
            for row in ctx.rows(
                f"SELECT i FROM (VALUES {rows}) AS t(i, v) "
                f"QUALIFY row_number() OVER (PARTITION BY CAST(v AS {duck_type}) ORDER BY i) > 1"
            )
        }
        pairs = [pair for i, pair in enumerate(pairs) if i not in later]
    found = f"map_extract(MAP {{{', '.join(f'{key}: {target}' for key, target in pairs)}}}, {column})"
    return f"CASE WHEN len({found}) > 0 THEN {found}[1] ELSE {otherwise} END"


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Look values up in the mapping; unmapped values (nulls included) follow ``default``.

    Keys are read in the column's type. The result's type comes from the targets: all booleans give
    BOOLEAN, all integers BIGINT, numbers DOUBLE, anything else text. With ``default = keep`` unmapped
    values keep theirs, so a result type that cannot hold the column's values (labels for numeric codes)
    turns the kept values into text.
    """
    from airflow_provider_logidata.engine.binding import (
        _type_family,
        bind,
        typed_literals,
        unfit_texts,
        value_text,
    )
    from airflow_provider_logidata.engine.sql import quote_ident

    config = ctx.typed_config(MapValuesConfig)
    name, duck_type = ctx.column(config.column, columns)
    column = quote_ident(name)
    keys = typed_literals(ctx, list(config.mapping), name, duck_type, what="mapping key(s)")
    targets: list[Value | None] = list(config.mapping.values())
    if config.default == "value":
        targets.append(config.default_value)
    result_type = _value_type(targets) or duck_type
    kept = column
    if config.default == "keep" and result_type.upper() != duck_type.upper():
        family = _type_family(duck_type)
        texts = [value_text(target) for target in targets if target is not None]
        if _type_family(result_type) == family and family in ("number", "text"):
            pass  # DuckDB widens numbers (BIGINT and DOUBLE give DOUBLE)
        elif result_type == "VARCHAR" and not unfit_texts(ctx, texts, duck_type):
            result_type = duck_type  # '2024-12-31' for a DATE column: the column keeps its type
        else:
            ctx.log.info(
                f"{ctx.owner}: the mapping gives {result_type} values and column {name!r} is {duck_type}; "
                "the result is text, with unmapped values kept as text"
            )
            result_type = "VARCHAR"
            kept = f"CAST({column} AS VARCHAR)"
    pairs = [
        (key, _value_literal(target, result_type))
        for key, target in zip(keys, config.mapping.values(), strict=True)
    ]
    otherwise = _otherwise(config, kept, result_type, lambda value: _value_literal(value, result_type))
    expression = _lookup(
        column,
        pairs,
        otherwise,
        lambda: _map_lookup(ctx, pairs, list(config.mapping), column, duck_type, otherwise),
    )
    target = _target(ctx, config, columns, (name, duck_type))
    if target is None:
        sql = f"SELECT *, {expression} AS {quote_ident(config.target_column or name)} FROM {relation}"
    else:
        sql = f"SELECT * REPLACE ({expression} AS {quote_ident(target[0])}) FROM {relation}"
    bind(ctx, sql, what="the mapping", fix="use mapping targets of one type")
    return sql


# --- inside the database (ELT) ---------------------------------------------------------------------------


def _keyed_lookup(
    ctx: EltContext,
    keys: list[str],
    targets: list[Any],
    column: str,
    result: str,
    otherwise: str,
) -> str:
    """The mapping as one lookup per row (``SqlDialect.keyed_lookup``), keyed by each typed key's text
    (``'01'`` of a number is ``1``).

    Keys equal once typed keep their first entry, as in a CASE; the column's value is looked up by its
    text, which the database writes the same way for equal values of one type.
    """
    from airflow_provider_logidata.engine.binding import value_text

    d = ctx.dialect
    values = ", ".join(f"({i}, {key})" for i, key in enumerate(keys))
    texts = [
        str(text)
        for (text,) in ctx.rows(f"SELECT {d.cast('k', d.text)} FROM (VALUES {values}) AS t(i, k) ORDER BY i")
    ]
    mapping: dict[str, str | None] = {}
    for text, target in zip(texts, targets, strict=True):
        mapping.setdefault(text, None if target is None else value_text(target))
    return d.keyed_lookup(mapping, d.cast(column, d.text), result, otherwise)


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """A CASE over the mapping, keys read in the column's type, results in the ETL engine's type."""
    from airflow_provider_logidata.engine.binding import value_text
    from airflow_provider_logidata.engine.elt_types import cast_to, duck_types

    config = ctx.typed_config(MapValuesConfig)
    d = ctx.dialect
    types = duck_types(ctx)  # also DuckDB's checks of the keys and targets, with its messages
    name, type_sql = ctx.column(config.column, columns)
    column = d.ident(name)
    output = config.target_column or name
    result = next(t for n, t in types if n.lower() == output.lower())
    texts = [value_text(key) for key in config.mapping]
    if d.is_text(type_sql):
        keys = [d.literal(text) for text in texts]
    else:
        keys = [d.cast(d.literal(text), type_sql) for text in texts]

    def literal(value: Any) -> str:
        return d.cast("NULL" if value is None else d.literal(value_text(value)), result)

    otherwise = _otherwise(config, d.cast(column, result), result, literal)
    pairs = [(key, literal(target)) for key, target in zip(keys, config.mapping.values(), strict=True)]
    expression = _lookup(
        column,
        pairs,
        otherwise,
        lambda: _keyed_lookup(ctx, keys, list(config.mapping.values()), column, result, otherwise),
    )
    target = _target(ctx, config, columns, (name, type_sql))
    if target is None:
        select = f"SELECT s.*, {expression} AS {d.ident(output)} FROM {relation} AS s"
    else:
        items = ", ".join(
            f"{expression} AS {d.ident(n)}" if n == target[0] else d.ident(n) for n, _ in columns
        )
        select = f"SELECT {items} FROM {relation} AS s"
    return cast_to(ctx, select, types)


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    target = config.get("target_column")
    return "rewrites" if target == column or (config.get("column") == column and not target) else ""


MODULE = ModuleDef(
    name="map_values",
    category="transform",
    label="Map values",
    description="Replace values through a lookup table (codes to labels).",
    config_model=MapValuesConfig,
    icon="replace",
    fusable=True,
    keeps_rows=True,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
    changes_column=_changes_column,
)
