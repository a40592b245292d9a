"""The sandbox a config template renders in: Jinja's immutable sandbox, narrowed to the allow-lists.

No globals, few filters and tests, allow-listed calls (``security.template_rules``), ``_`` names refused
outright, and the operators and filters that multiply sizes (``*``, ``**``, ``replace``, ``join``) charged
against a per-render budget before they allocate (``'a' * 10**9`` is refused before it is built).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import types
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.template_rules import (
    DATE_CLASS_METHODS,
    DATE_METHODS,
    DICT_METHODS,
    HINT_CALLS,
    MACRO_CALLABLES,
    MAX_OUTPUT_CHARS,
    STR_METHODS,
    TESTS,
    refusal_text,
    underscore_message,
)

# --- the allocation budget of one render ------------------------------------------------------------

render_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "logidata_template_budget", default=None
)


def _charge(size: int, what: str) -> None:
    """Count ``size`` characters against the current render's budget, before they are allocated."""
    budget = render_budget.get()
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


FILTER_NAMES = frozenset(_filters())


def _refused_attribute(name: str) -> PolicyError:
    return PolicyError(
        refusal_text("template-attribute", underscore_message(name)), rule="template-attribute"
    )


def _allowed_call(obj: Any) -> bool:
    """Whether a template may call ``obj``: a date macro or an allowed method of a date, text or dict."""
    if any(obj is allowed for allowed in MACRO_CALLABLES):
        return True
    if not isinstance(obj, types.MethodType | types.BuiltinMethodType):
        return False
    owner, name = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
    if owner is dt.datetime or owner is dt.date:
        return name in DATE_CLASS_METHODS
    if isinstance(owner, dt.date | dt.time | dt.timedelta):
        return name in DATE_METHODS
    if isinstance(owner, str):
        return name in STR_METHODS
    if isinstance(owner, dict):
        return name in DICT_METHODS
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
        self.tests = {name: test for name, test in self.tests.items() if name in TESTS}
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
            message = f"{what!r} may not be called; {HINT_CALLS}"
            raise PolicyError(refusal_text("template-call", message), rule="template-call")
        return super().call(__context, __obj, *args, **kwargs)


@functools.cache
def environment() -> _Sandbox:
    return _Sandbox()
