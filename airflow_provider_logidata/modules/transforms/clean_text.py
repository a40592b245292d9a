"""clean_text: trim, collapse white space and change the letter case of text columns.

Both builders pick the columns the same way (:func:`_targets`) and apply the steps in the same order:
white space, then letter case, then empty texts to null (:func:`_case_and_empty`). They differ in the
regular expressions each dialect understands and in how a title case is spelt; inside the database case
changes with DuckDB's one-to-one mapping (``SqlDialect.case_function``: 'ß' becomes 'ẞ', not 'SS').
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class CleanTextConfig(ModuleConfig):
    """Trim, collapse spaces and normalise the case of text columns."""

    columns: list[ColumnName] | None = Field(None, description="Text columns to clean (default: all text).")
    trim: bool = Field(True, description="Remove leading and trailing white space.")
    collapse_spaces: bool = Field(True, description="Replace runs of white space with one space.")
    case: Literal["keep", "lower", "upper", "title"] = Field("keep", description="Change the letter case.")
    empty_as_null: bool = Field(False, description="Turn empty texts (after cleaning) into nulls.")


# White space for text cleaning: ASCII white space plus every Unicode space separator (NBSP, ...).
WHITESPACE = r"[\s\p{Z}]"
# The white space that collapsing must rewrite: a run of two or more, or one character other than the
# plain space (tab, NBSP, ...). A lone space already is what collapsing produces, and leaving it alone
# spares the regular expression engine a rewrite of almost every value (measured: a quarter faster).
# The class is ``WHITESPACE`` without U+0020: ``\s`` is tab, newline, form feed, carriage return and
# space; ``\p{Z}`` is the space separators (Zs), line (Zl) and paragraph (Zp) separators.
_NOT_PLAIN_SPACE = r"[\t\n\f\r\p{Zl}\p{Zp}\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]"
COLLAPSE = f"{WHITESPACE}{{2,}}|{_NOT_PLAIN_SPACE}"
# RE2's \s ([\t\n\f\r ]) plus Unicode's Z category: the DuckDB builders' [\s\p{Z}], for PostgreSQL's regex.
WS_CLASS = "[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NOT_WS_CLASS = "[^\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _targets(
    ctx: TransformContext | EltContext, columns: Columns, is_text: Callable[[str], bool]
) -> list[str]:
    """The listed text columns, or every text column when ``columns`` is not set; [] (with a warning)
    when there is none. ``is_text`` is the dialect's, over its own type names."""
    config = ctx.config
    assert isinstance(config, CleanTextConfig)
    if config.columns is None:
        targets = [name for name, type_sql in columns if is_text(type_sql)]
    else:
        targets = []
        for requested in config.columns:
            name, type_sql = ctx.column(requested, columns)
            if not is_text(type_sql):
                raise ctx.error(
                    f"column {name!r} is {type_sql}, not text; remove it from columns or cast it to "
                    "string first (select_columns)"
                )
            if name not in targets:
                targets.append(name)
    if not targets:
        ctx.log.warning(f"{ctx.owner}: the input has no text columns; rows pass unchanged")
    return targets


def _case_and_empty(
    expression: str, config: CleanTextConfig, case: tuple[str, str], title: Callable[[str], str]
) -> str:
    """The steps after white space, in both dialects: letter case, then optionally '' to null."""
    if config.case == "lower":
        expression = f"{case[1]}({expression})"
    elif config.case == "upper":
        expression = f"{case[0]}({expression})"
    elif config.case == "title":
        expression = title(expression)
    if config.empty_as_null:
        expression = f"nullif({expression}, '')"
    return expression


def clean_text_expression(column: str, config: CleanTextConfig) -> str:
    """Trim, collapse white space, change case, then optionally turn '' into null, in that order.

    Trimming and collapsing together collapse first, then trim plain spaces (``trim``): once every run
    of white space is one space, that removes exactly the white space at both ends, with one regular
    expression instead of two.
    """
    from airflow_provider_logidata.engine.sql import quote_ident, quote_literal

    expression = quote_ident(column)
    collapse = f"regexp_replace({expression}, {quote_literal(COLLAPSE)}, ' ', 'g')"
    if config.trim and config.collapse_spaces:
        expression = f"trim({collapse})"
    elif config.trim:
        pattern = f"^{WHITESPACE}+|{WHITESPACE}+$"
        expression = f"regexp_replace({expression}, {quote_literal(pattern)}, '', 'g')"
    elif config.collapse_spaces:
        expression = collapse

    def title(expression: str) -> str:
        # Split into runs of white space and of other characters; capitalise the first character of
        # each run and lower-case the rest ("jean-luc O'NEIL" -> "Jean-luc O'neil").
        tokens = quote_literal(f"{WHITESPACE}+|[^\\s\\p{{Z}}]+")
        return (
            f"array_to_string(list_transform(regexp_extract_all({expression}, {tokens}), "
            "lambda t: upper(left(t, 1)) || lower(substr(t, 2))), '')"
        )

    return _case_and_empty(expression, config, ("upper", "lower"), title)


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Clean the listed text columns, or every VARCHAR column when ``columns`` is not set."""
    from airflow_provider_logidata.engine.sql import is_text, quote_ident

    config = ctx.typed_config(CleanTextConfig)
    targets = _targets(ctx, columns, is_text)
    if not targets:
        return f"SELECT * FROM {relation}"
    replaced = ", ".join(f"{clean_text_expression(name, config)} AS {quote_ident(name)}" for name in targets)
    return f"SELECT * REPLACE ({replaced}) FROM {relation}"


def elt_expression(d: SqlDialect, column: str, config: CleanTextConfig, upper: str, lower: str) -> str:
    """:func:`clean_text_expression` inside the database; ``upper`` and ``lower`` name DuckDB's case
    functions there (``SqlDialect.case_function``)."""
    expression = d.ident(column)
    if config.trim:
        expression = d.regexp_replace_all(expression, f"^{WS_CLASS}+|{WS_CLASS}+$", "")
    if config.collapse_spaces:
        expression = d.regexp_replace_all(expression, WS_CLASS + "+", " ")
    tokens = f"{WS_CLASS}+|{NOT_WS_CLASS}+"
    return _case_and_empty(
        expression, config, (upper, lower), lambda value: d.title_case(value, tokens, upper, lower)
    )


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Untouched columns are listed by name: not every database has DuckDB's ``SELECT * REPLACE``."""
    config = ctx.typed_config(CleanTextConfig)
    d = ctx.dialect
    targets = _targets(ctx, columns, d.is_text)
    if not targets:
        return f"SELECT * FROM {relation} AS s"
    upper, lower = ("upper", "lower")
    if config.case in ("upper", "title"):
        upper = d.case_function(ctx, "upper")
    if config.case in ("lower", "title"):
        lower = d.case_function(ctx, "lower")
    items = [
        f"{elt_expression(d, name, config, upper, lower)} AS {d.ident(name)}"
        if name in targets
        else d.ident(name)
        for name, _ in columns
    ]
    return f"SELECT {', '.join(items)} FROM {relation} AS s"


def _changes_column(config: Mapping[str, Any], column: str) -> str:
    """Without ``columns`` it cleans every text column: which those are is not known from the config."""
    return "rewrites" if column in (config.get("columns") or []) else ""


MODULE = ModuleDef(
    name="clean_text",
    category="transform",
    label="Clean text",
    description="Trim, collapse spaces and change case.",
    config_model=CleanTextConfig,
    icon="type",
    fusable=True,
    row_order="keeps",
    keeps_rows=True,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
    changes_column=_changes_column,
)
