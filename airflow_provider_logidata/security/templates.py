"""Sandboxed Jinja for the strings of a node's config (``{{ ds_nodash }}`` in a path, a param in a filter).

Airflow renders template fields with the whole task context: ``conn``, ``var``, ``ti``, ``dag_run``,
``conf``... A pipeline editor (Airflow's User role) may not read connection secrets or Airflow's
configuration, so LogiData renders config strings itself, here, with an allow-listed context of plain
values (dates, ids, params, a few date macros) and an allow-list of Jinja constructs:

* :func:`check_template` parses the text and walks its syntax tree: only expressions and if/else, only the
  allowed names, no ``_`` attributes, a short list of filters, tests and method calls. The validator (through
  :func:`check_strings`), the DAG factory, previews and runs all call it: a refusal names the rule.
* :func:`render` checks again and renders in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
  that enforces the same rules at run time (a dynamic ``params[name]`` cannot reach ``__class__``) and
  bounds what a template may allocate (``'a' * 10**9`` is refused before it is built).

Imported by the DAG processor for every pipeline: jinja2 only (no Airflow); the hot path, a string without
``{{``, ``{%`` or ``{#``, returns at once.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
import types
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from airflow_provider_logidata.security.errors import PolicyError

__all__ = [
    "ALLOWED_NAMES",
    "MAX_OUTPUT_CHARS",
    "TemplateRenderError",
    "check_strings",
    "check_template",
    "render",
    "render_config",
    "safe_context",
    "sample_context",
]

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
_ALLOWED = frozenset(ALLOWED_NAMES)
_DATE_NAMES = ("logical_date", "data_interval_start", "data_interval_end")
_RUN_DATE_NAMES = frozenset({"ds", "ds_nodash", "ts", "ts_nodash", *_DATE_NAMES})

# Longest rendered string, and the most a single render may allocate through operators that multiply
# sizes (``*``, ``**``, ``replace``, ``join``): a path or an expression never needs more.
MAX_OUTPUT_CHARS = 1_000_000
# Deepest syntax tree accepted: a config string has no use for more, and the compiled Python of deeper
# ones hits Python's own limits (nested blocks, recursion).
_MAX_DEPTH = 64
# Texts longer than this are checked each time rather than kept in the check cache.
_CACHED_TEXT_CHARS = 4_096

_HINT_NAMES = ", ".join(ALLOWED_NAMES)
_RAW_HINT = "to write '{{', '{%' or '{#' literally, wrap the text in {% raw %}...{% endraw %}"

# Syntax-tree nodes of plain expressions and if/else blocks. Loops, assignments, macros, blocks,
# imports, includes, ``with``, ``filter`` and ``call`` blocks and every internal node are refused.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
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
_CONSTRUCT_NAMES: dict[type[nodes.Node], str] = {
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
_MACRO_NAMES = frozenset({"ds_add", "ds_format", "datetime", "timedelta"})
_MACRO_CALLABLES: tuple[Any, ...] = (ds_add, ds_format, dt.datetime, dt.timedelta)

# Methods a template may call, by the type of the object they belong to (checked again at run time).
_DATE_METHODS = frozenset(
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
_DATE_CLASS_METHODS = frozenset({"now", "today", "fromisoformat", "strptime", "combine"})
_STR_METHODS = frozenset(
    {"upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize", "startswith", "endswith", "split"}
)
_DICT_METHODS = frozenset({"get"})
_METHOD_NAMES = _DATE_METHODS | _DATE_CLASS_METHODS | _STR_METHODS | _DICT_METHODS
_HINT_CALLS = (
    "only macros.ds_add, macros.ds_format, macros.datetime, macros.timedelta, date methods ("
    + ", ".join(sorted(_DATE_METHODS | _DATE_CLASS_METHODS))
    + "), text methods ("
    + ", ".join(sorted(_STR_METHODS))
    + ") and params.get may be called"
)

_TESTS = frozenset(
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


# --- the allocation budget of one render ------------------------------------------------------------

_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "logidata_template_budget", default=None
)


def _charge(size: int, what: str) -> None:
    """Count ``size`` characters against the current render's budget, before they are allocated."""
    budget = _budget.get()
    if budget is None:
        # Outside render() (a direct use of the environment): each operation alone is bounded.
        budget = [MAX_OUTPUT_CHARS]
    budget[0] -= max(size, 0)
    if budget[0] < 0:
        raise PolicyError(
            f"template refused (rule template-size): {what} would build more than {MAX_OUTPUT_CHARS:,} "
            "characters; a config string never needs that much",
            rule="template-size",
        )


def _multiply(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            _charge(len(seq) * count, "'*' on a text or list")
    if isinstance(left, int) and isinstance(right, int):
        bits = abs(left).bit_length() + abs(right).bit_length()
        if bits > 4096:
            _charge(bits // 3, "'*' on numbers")
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _charge(abs(left).bit_length() * right // 3, "'**'")
    return left**right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        # '%0999999999d' % 1 allocates a gigabyte: text formatting goes through filters instead.
        raise PolicyError(
            "template refused (rule template-construct): the '%' text formatting operator is not "
            "allowed; join texts with '~' or use a filter such as replace",
            rule="template-construct",
        )
    return left % right


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's ``replace`` with the size of the result counted before it is built."""
    text, old_text, new_text = str(value), str(old), str(new)
    found = text.count(old_text) if old_text else len(text) + 1
    if count is not None and count >= 0:
        found = min(found, count)
    _charge(found * (len(new_text) - len(old_text)), "replace")
    return text.replace(old_text, new_text, -1 if count is None else count)


def _join(value: Any, d: str = "") -> str:
    """Jinja's ``join`` (without ``attribute``) with the size of the result counted before it is built."""
    parts: str | list[str] = value if isinstance(value, str) else [str(item) for item in value]
    separator = str(d)
    _charge(sum(len(part) for part in parts) + len(separator) * max(len(parts) - 1, 0), "join")
    return separator.join(parts)


def _filters() -> dict[str, Any]:
    """The filters a template may use: text case and cleanup, defaults, conversions, sizes."""
    from jinja2 import filters

    return {
        "upper": filters.do_upper,
        "lower": filters.do_lower,
        "title": filters.do_title,
        "capitalize": filters.do_capitalize,
        "trim": filters.do_trim,
        "replace": _replace,
        "join": _join,
        "default": filters.do_default,
        "d": filters.do_default,
        "string": filters.soft_str,
        "int": filters.do_int,
        "float": filters.do_float,
        "round": filters.do_round,
        "abs": abs,
        "length": len,
        "count": len,
        "first": filters.do_first,
        "last": filters.do_last,
    }


_FILTER_NAMES = frozenset(_filters())


def _underscore_message(name: str) -> str:
    return (
        f"{name!r} starts with '_'; attributes and items whose names start with '_' (Python internals) "
        "are never available"
    )


def _refused_attribute(name: str) -> PolicyError:
    return PolicyError(
        _refusal_text("template-attribute", _underscore_message(name)), rule="template-attribute"
    )


def _allowed_call(obj: Any) -> bool:
    """Whether a template may call ``obj``: a date macro or an allowed method of a date, text or dict."""
    if any(obj is allowed for allowed in _MACRO_CALLABLES):
        return True
    if not isinstance(obj, types.MethodType | types.BuiltinMethodType):
        return False
    owner, name = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
    if owner is dt.datetime or owner is dt.date:
        return name in _DATE_CLASS_METHODS
    if isinstance(owner, dt.date | dt.time | dt.timedelta):
        return name in _DATE_METHODS
    if isinstance(owner, str):
        return name in _STR_METHODS
    if isinstance(owner, dict):
        return name in _DICT_METHODS
    return False


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed: no globals, few filters and tests, allow-listed calls,
    ``_`` names refused outright (not just undefined) and size-multiplying operators budgeted."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.filters = _filters()
        self.tests = {name: test for name, test in self.tests.items() if name in _TESTS}
        self.binop_table = {**self.binop_table, "*": _multiply, "**": _power, "%": _modulo}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not isinstance(obj, types.ModuleType) and super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise _refused_attribute(attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument.startswith("_"):
            raise _refused_attribute(argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not _allowed_call(__obj):
            what = getattr(__obj, "__name__", type(__obj).__name__)
            message = f"{what!r} may not be called; {_HINT_CALLS}"
            raise PolicyError(_refusal_text("template-call", message), rule="template-call")
        return super().call(__context, __obj, *args, **kwargs)


@functools.cache
def _environment() -> _Sandbox:
    return _Sandbox()


# --- checking -------------------------------------------------------------------------------------------


def _has_template(text: str) -> bool:
    """Whether Jinja would treat ``text`` as more than plain data (the cheap test of the hot path)."""
    return "{" in text and ("{{" in text or "{%" in text or "{#" in text)


def check_template(text: str) -> None:
    """Refuse a template that uses anything beyond allow-listed names, filters, calls and constructs.

    Raises :class:`PolicyError` with ``rule`` ``template-syntax``, ``template-construct``,
    ``template-name``, ``template-attribute``, ``template-filter``, ``template-test`` or
    ``template-call``. Texts without a template are accepted at once; the analysis of short texts is
    cached (the factory checks every field of every pipeline at every parse).
    """
    if not _has_template(text):
        return
    refusal = _analysis(text)[0]
    if refusal is not None:
        raise PolicyError(refusal[0], rule=refusal[1])


_Analysis = tuple[tuple[str, str] | None, frozenset[str]]
# The rule reported when a template breaks several: the most telling first.
_RULE_ORDER = (
    "template-construct",
    "template-name",
    "template-attribute",
    "template-filter",
    "template-test",
    "template-call",
)


# ``{{ ds_nodash }}``: one allowed name, nothing else. Most templates are paths made of these; they need
# no parse (Jinja's parser costs ~0.4 ms a text, and every pipeline's paths differ, so caching misses).
_SIMPLE_OUTPUT = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_SIMPLE_NAMES = frozenset(_ALLOWED - {"params", "macros"})


def _analysis(text: str) -> _Analysis:
    names = {match.group(1) for match in _SIMPLE_OUTPUT.finditer(text)}
    if names and names <= _SIMPLE_NAMES and not _has_template(_SIMPLE_OUTPUT.sub("", text)):
        return None, frozenset(names)
    return _analyse_cached(text) if len(text) <= _CACHED_TEXT_CHARS else _analyse(text)


@functools.lru_cache(maxsize=4096)
def _analyse_cached(text: str) -> _Analysis:
    return _analyse(text)


def _analyse(text: str) -> _Analysis:
    """``((message, rule) of the refusal or None, allowed names used)`` of a template text."""
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as error:
        message = f"line {error.lineno}: {(error.message or 'invalid syntax').rstrip('.')}; {_RAW_HINT}"
        return (_refusal_text("template-syntax", message), "template-syntax"), frozenset()
    except RecursionError:
        message = "the expression is nested too deeply"
        return (_refusal_text("template-syntax", message), "template-syntax"), frozenset()
    refusals: dict[str, str] = {}
    names: set[str] = set()
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            # Python would refuse the compiled template (indentation, recursion) anyway; say why here.
            message = f"the template is nested more than {_MAX_DEPTH} levels deep"
            return (_refusal_text("template-syntax", message), "template-syntax"), frozenset()
        for rule, message in _node_refusals(node, names):
            refusals.setdefault(rule, message)
        stack.extend((child, depth + 1) for child in reversed(list(node.iter_child_nodes())))
    for rule in _RULE_ORDER:
        if rule in refusals:
            return (_refusal_text(rule, refusals[rule]), rule), frozenset(names)
    return None, frozenset(names)


def _refusal_text(rule: str, message: str) -> str:
    return f"template refused (rule {rule}): {message}"


def _node_refusals(node: nodes.Node, names: set[str]) -> list[tuple[str, str]]:
    """The refusals a single syntax-tree node earns (its children are visited by the caller)."""
    if not isinstance(node, _ALLOWED_NODES):
        what = _CONSTRUCT_NAMES.get(type(node), type(node).__name__)
        return [
            (
                "template-construct",
                f"{what} is not allowed; a config string may hold expressions ({{{{ ... }}}}) and "
                "{% if %}...{% else %}...{% endif %} only",
            )
        ]
    out: list[tuple[str, str]] = []
    if isinstance(node, nodes.Name):
        if node.ctx != "load":
            out.append(("template-construct", f"assigning {node.name!r} is not allowed"))
        elif node.name not in _ALLOWED:
            out.append(
                (
                    "template-name",
                    f"{node.name!r} is not available in LogiData templates; use one of: {_HINT_NAMES}. "
                    "Airflow's conn, var, ti, dag_run and conf are not exposed to pipeline fields (a node "
                    "names its connection in a connection id field)",
                )
            )
        else:
            names.add(node.name)
    elif isinstance(node, nodes.Getattr | nodes.Getitem):
        key = node.attr if isinstance(node, nodes.Getattr) else node.arg
        name = key if isinstance(key, str) else key.value if isinstance(key, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            out.append(("template-attribute", _underscore_message(name)))
        elif (
            isinstance(name, str)
            and isinstance(node.node, nodes.Name)
            and node.node.name == "macros"
            and name not in _MACRO_NAMES
        ):
            out.append(
                (
                    "template-attribute",
                    f"macros.{name} is not available; macros offers " + ", ".join(sorted(_MACRO_NAMES)),
                )
            )
    elif isinstance(node, nodes.Filter | nodes.Test):
        allowed = _FILTER_NAMES if isinstance(node, nodes.Filter) else _TESTS
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        if node.name not in allowed:
            shown = ", ".join(sorted(name for name in allowed if name.isidentifier()))
            out.append(
                (f"template-{kind}", f"the {kind} {node.name!r} is not allowed; allowed {kind}s: {shown}")
            )
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            out.append(("template-construct", "*args and **kwargs are not allowed"))
    elif isinstance(node, nodes.Call):
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            out.append(("template-construct", "*args and **kwargs are not allowed"))
        callee = node.node
        if not (isinstance(callee, nodes.Getattr) and callee.attr in (_MACRO_NAMES | _METHOD_NAMES)):
            what = callee.attr if isinstance(callee, nodes.Getattr) else getattr(callee, "name", "this")
            out.append(("template-call", f"calling {what!r} is not allowed; {_HINT_CALLS}"))
    return out


def check_strings(value: Any) -> list[tuple[str, PolicyError]]:
    """``(path, error)`` for every string nested in ``value`` (dicts and lists) that is a refused template.

    The path is relative to ``value`` in the validator's notation (``expressions[0].expression``; ``""``
    for ``value`` itself), so the caller prefixes it with the node's ``nodes[i].config.``.
    """
    found: list[tuple[str, PolicyError]] = []
    for path, text in _strings(value, ""):
        try:
            check_template(text)
        except PolicyError as error:
            found.append((path, error))
    return found


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)] if _has_template(value) else []
    out: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            out += _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            out += _strings(item, f"{path}[{index}]")
    return out


# --- rendering ------------------------------------------------------------------------------------------


class TemplateRenderError(ValueError):
    """An allowed template that failed to render: an undefined param, a type error, a bad date format."""


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` rendered in the sandbox with the allow-listed keys of ``context`` only.

    Raises :class:`PolicyError` for a refused template (checked again here: a run never trusts that
    validation happened) or a result over :data:`MAX_OUTPUT_CHARS`, :class:`TemplateRenderError` when it
    fails to render.
    """
    if not _has_template(text):
        return text
    check_template(text)
    values = _values(context)
    names = _analysis(text)[1]
    missing = sorted(names - values.keys())
    if missing:
        why = (
            " (a run without a logical date has no ds, ts or data interval)"
            if _RUN_DATE_NAMES.intersection(missing)
            else ""
        )
        raise TemplateRenderError(
            f"the template uses {', '.join(missing)}, which this run does not have{why}; available: "
            + ", ".join(sorted(values))
        )
    token = _budget.set([MAX_OUTPUT_CHARS])
    try:
        template = _environment().from_string(text)
        pieces: list[str] = []
        size = 0
        for piece in template.generate(values):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise PolicyError(
                    f"template refused (rule template-size): the rendered text is longer than "
                    f"{MAX_OUTPUT_CHARS:,} characters",
                    rule="template-size",
                )
            pieces.append(piece)
        return "".join(pieces)
    except PolicyError:
        raise
    except jinja2.exceptions.SecurityError as error:
        raise PolicyError(
            _refusal_text("template-attribute", str(error)), rule="template-attribute"
        ) from None
    except (
        jinja2.TemplateError,
        ArithmeticError,
        TypeError,
        ValueError,
        LookupError,
        AttributeError,
        SyntaxError,
        RecursionError,
    ) as error:
        raise TemplateRenderError(
            f"the template failed to render: {error}; check the names, params and arguments it uses"
        ) from None
    finally:
        _budget.reset(token)


def render_config(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every string nested in dicts and lists rendered by :func:`render`; keys unchanged.

    Errors name the field (``expressions[0].expression: ...``) and keep their type and rule.
    """
    return _render_value(value, context, "")


def _render_value(value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        if not _has_template(value):
            return value
        try:
            return render(value, context)
        except PolicyError as error:
            raise PolicyError(f"{path or 'value'}: {error}", rule=error.rule, setting=error.setting) from None
        except TemplateRenderError as error:
            raise TemplateRenderError(f"{path or 'value'}: {error}") from None
    if isinstance(value, Mapping):
        return {
            key: _render_value(item, context, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_render_value(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_render_value(item, context, f"{path}[{index}]") for index, item in enumerate(value))
    return value


# --- contexts -------------------------------------------------------------------------------------------


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-like copy: params hold data, never objects with attributes to walk."""
    if depth > 32:
        raise TemplateRenderError("params are nested more than 32 levels deep")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return _stdlib_date(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(value[key], depth + 1) for key in value}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, depth + 1) for item in value]
    return str(value)


def _stdlib_date(value: Any) -> Any:
    """A plain :mod:`datetime` value (Airflow gives pendulum objects, with a wider surface)."""
    if type(value) in (dt.datetime, dt.date, dt.time, dt.timedelta):
        return value
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, dt.time):
        return dt.time.fromisoformat(value.isoformat())
    return dt.timedelta(seconds=value.total_seconds())


def safe_context(airflow_context: Mapping[str, Any]) -> dict[str, Any]:
    """The allow-listed template context of a task, from Airflow's task context.

    Plain values only: strings, stdlib datetimes, params as JSON-like data and :data:`MACROS`. A key
    Airflow did not set (``ds`` in a run without a logical date) stays absent, so using it is a clear
    error rather than an empty string.
    """
    ids: dict[str, Any] = {}
    for name, owner in (("dag_id", "dag"), ("task_id", "task")):
        value = airflow_context.get(name)
        for source in (airflow_context.get(owner), airflow_context.get("ti")):
            if not isinstance(value, str):
                value = getattr(source, name, None)
        ids[name] = value
    return _values({**airflow_context, **ids})


def _values(context: Mapping[str, Any]) -> dict[str, Any]:
    """The allow-listed names of ``context`` as plain values (whatever a caller passed), and macros."""
    out: dict[str, Any] = {}
    for name in ("ds", "ds_nodash", "ts", "ts_nodash", "run_id", "dag_id", "task_id"):
        value = context.get(name)
        if isinstance(value, str):
            out[name] = value
    for name in _DATE_NAMES:
        value = context.get(name)
        if isinstance(value, dt.datetime):
            out[name] = _stdlib_date(value)
    params = context.get("params")
    if isinstance(params, Mapping):
        out["params"] = {str(key): _plain(params[key]) for key in params}
    out["macros"] = MACROS
    return out


def sample_context(
    *,
    params: Mapping[str, Any] | None = None,
    dag_id: str = "preview",
    task_id: str = "preview",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The context previews render with: today (midnight UTC) as a daily run's logical date.

    Previews and runs share :func:`render` and its rules; only the values differ (``run_id`` is
    ``"preview"``).
    """
    moment = now or dt.datetime.now(dt.timezone.utc)
    logical = moment.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    ds = logical.strftime("%Y-%m-%d")
    return {
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "logical_date": logical,
        "data_interval_start": logical,
        "data_interval_end": logical + dt.timedelta(days=1),
        "params": _plain(dict(params or {})),
        "run_id": "preview",
        "dag_id": dag_id,
        "task_id": task_id,
        "macros": MACROS,
    }
