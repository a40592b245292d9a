"""What a config template may use: names, date macros, methods, tests, syntax-tree nodes, and sizes.

The allow-lists both halves of the template policy share: ``security.template_check`` refuses, from the
syntax tree, a template that uses anything else, and the sandbox of ``security.template_env`` enforces the
same lists at run time. The refusal texts name the rule, so a message says which list a template broke.

Imported by the DAG processor for every pipeline: jinja2 only (no Airflow).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import nodes

# The names a template may use. Everything else of Airflow's context stays out of reach.
ALLOWED_NAMES: tuple[str, ...] = (
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "params",
    "run_id",
    "dag_id",
    "task_id",
    "macros",
)
ALLOWED = frozenset(ALLOWED_NAMES)
DATE_NAMES = ("logical_date", "data_interval_start", "data_interval_end")
RUN_DATE_NAMES = frozenset({"ds", "ds_nodash", "ts", "ts_nodash", *DATE_NAMES})

# Longest rendered string, and the most a single render may allocate through operators that multiply
# sizes (``*``, ``**``, ``replace``, ``join``): a path or an expression never needs more.
MAX_OUTPUT_CHARS = 1_000_000
# Deepest syntax tree accepted: a config string has no use for more, and the compiled Python of deeper
# ones hits Python's own limits (nested blocks, recursion).
MAX_DEPTH = 64
# Texts longer than this are checked each time rather than kept in the check cache.
CACHED_TEXT_CHARS = 4_096

HINT_NAMES = ", ".join(ALLOWED_NAMES)
RAW_HINT = "to write '{{', '{%' or '{#' literally, wrap the text in {% raw %}...{% endraw %}"

# Syntax-tree nodes of plain expressions and if/else blocks. Loops, assignments, macros, blocks,
# imports, includes, ``with``, ``filter`` and ``call`` blocks and every internal node are refused.
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Name,
    nodes.Const,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Concat,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,  # + - * / // % **
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
)
CONSTRUCT_NAMES: dict[type[nodes.Node], str] = {
    nodes.For: "{% for %}",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}...{% endset %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.ExprStmt: "{% do %}",
    nodes.Continue: "{% continue %}",
    nodes.Break: "{% break %}",
}


# --- the date macros ----------------------------------------------------------------------------------


def ds_add(ds: str, days: int) -> str:
    """``ds`` (YYYY-MM-DD) plus ``days`` days, as Airflow's ``macros.ds_add``."""
    if not days:
        return str(ds)
    return (dt.datetime.strptime(str(ds), "%Y-%m-%d") + dt.timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds`` read with ``input_format`` and written with ``output_format``, as Airflow's macro."""
    return dt.datetime.strptime(str(ds), input_format).strftime(output_format)


class _Macros:
    """``macros`` in a template: date helpers only (Airflow's exposes modules: ``json``, ``random``...)."""

    __slots__ = ()
    ds_add = staticmethod(ds_add)
    ds_format = staticmethod(ds_format)
    datetime = dt.datetime
    timedelta = dt.timedelta

    def __repr__(self) -> str:
        return "<macros: ds_add, ds_format, datetime, timedelta>"


MACROS = _Macros()
MACRO_NAMES = frozenset({"ds_add", "ds_format", "datetime", "timedelta"})
MACRO_CALLABLES: tuple[Any, ...] = (ds_add, ds_format, dt.datetime, dt.timedelta)

# Methods a template may call, by the type of the object they belong to (checked again at run time).
DATE_METHODS = frozenset(
    {
        "strftime",
        "isoformat",
        "replace",
        "date",
        "weekday",
        "isoweekday",
        "isocalendar",
        "timestamp",
        "total_seconds",
    }
)
DATE_CLASS_METHODS = frozenset({"now", "today", "fromisoformat", "strptime", "combine"})
STR_METHODS = frozenset(
    {"upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize", "startswith", "endswith", "split"}
)
DICT_METHODS = frozenset({"get"})
METHOD_NAMES = DATE_METHODS | DATE_CLASS_METHODS | STR_METHODS | DICT_METHODS
HINT_CALLS = (
    "only macros.ds_add, macros.ds_format, macros.datetime, macros.timedelta, date methods ("
    + ", ".join(sorted(DATE_METHODS | DATE_CLASS_METHODS))
    + "), text methods ("
    + ", ".join(sorted(STR_METHODS))
    + ") and params.get may be called"
)

TESTS = frozenset(
    {
        "defined",
        "undefined",
        "none",
        "number",
        "string",
        "mapping",
        "sequence",
        "boolean",
        "true",
        "false",
        "integer",
        "float",
        "lower",
        "upper",
        "odd",
        "even",
        "divisibleby",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "in",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
    }
)


def underscore_message(name: str) -> str:
    return (
        f"{name!r} starts with '_'; attributes and items whose names start with '_' (Python internals) "
        "are never available"
    )


def refusal_text(rule: str, message: str) -> str:
    return f"template refused (rule {rule}): {message}"
