"""Checking a config template before it is rendered: its syntax tree against the allow-lists.

The validator (through :func:`check_strings`), the DAG factory, previews and runs all call
:func:`check_template`: a refusal names the rule. The analysis of short texts is cached (the factory checks
every field of every pipeline at every parse), and the commonest templates (``{{ ds_nodash }}`` in a path)
need no parse at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes

from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.template_env import FILTER_NAMES, environment
from airflow_provider_logidata.security.template_rules import (
    ALLOWED,
    ALLOWED_NODES,
    CACHED_TEXT_CHARS,
    CONSTRUCT_NAMES,
    HINT_CALLS,
    HINT_NAMES,
    MACRO_NAMES,
    MAX_DEPTH,
    METHOD_NAMES,
    RAW_HINT,
    TESTS,
    refusal_text,
    underscore_message,
)

# --- checking -------------------------------------------------------------------------------------------


def has_template(text: str) -> bool:
    """Whether Jinja would treat ``text`` as more than plain data (the cheap test of the hot path)."""
    return "{" in text and ("{{" in text or "{%" in text or "{#" in text)


def check_template(text: str) -> None:
    """Refuse a template that uses anything beyond allow-listed names, filters, calls and constructs.

    Raises :class:`PolicyError` with ``rule`` ``template-syntax``, ``template-construct``,
    ``template-name``, ``template-attribute``, ``template-filter``, ``template-test`` or
    ``template-call``. Texts without a template are accepted at once; the analysis of short texts is
    cached (the factory checks every field of every pipeline at every parse).
    """
    if not has_template(text):
        return
    refusal = analysis(text)[0]
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
_SIMPLE_NAMES = frozenset(ALLOWED - {"params", "macros"})


def analysis(text: str) -> _Analysis:
    names = {match.group(1) for match in _SIMPLE_OUTPUT.finditer(text)}
    if names and names <= _SIMPLE_NAMES and not has_template(_SIMPLE_OUTPUT.sub("", text)):
        return None, frozenset(names)
    return _analyse_cached(text) if len(text) <= CACHED_TEXT_CHARS else _analyse(text)


@functools.lru_cache(maxsize=4096)
def _analyse_cached(text: str) -> _Analysis:
    return _analyse(text)


def _analyse(text: str) -> _Analysis:
    """``((message, rule) of the refusal or None, allowed names used)`` of a template text."""
    try:
        tree = environment().parse(text)
    except jinja2.TemplateSyntaxError as error:
        message = f"line {error.lineno}: {(error.message or 'invalid syntax').rstrip('.')}; {RAW_HINT}"
        return (refusal_text("template-syntax", message), "template-syntax"), frozenset()
    except RecursionError:
        message = "the expression is nested too deeply"
        return (refusal_text("template-syntax", message), "template-syntax"), frozenset()
    refusals: dict[str, str] = {}
    names: set[str] = set()
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            # Python would refuse the compiled template (indentation, recursion) anyway; say why here.
            message = f"the template is nested more than {MAX_DEPTH} levels deep"
            return (refusal_text("template-syntax", message), "template-syntax"), frozenset()
        for rule, message in _node_refusals(node, names):
            refusals.setdefault(rule, message)
        stack.extend((child, depth + 1) for child in reversed(list(node.iter_child_nodes())))
    for rule in _RULE_ORDER:
        if rule in refusals:
            return (refusal_text(rule, refusals[rule]), rule), frozenset(names)
    return None, frozenset(names)


def _node_refusals(node: nodes.Node, names: set[str]) -> list[tuple[str, str]]:
    """The refusals a single syntax-tree node earns (its children are visited by the caller)."""
    if not isinstance(node, ALLOWED_NODES):
        what = CONSTRUCT_NAMES.get(type(node), type(node).__name__)
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
        elif node.name not in ALLOWED:
            out.append(
                (
                    "template-name",
                    f"{node.name!r} is not available in LogiData templates; use one of: {HINT_NAMES}. "
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
            out.append(("template-attribute", underscore_message(name)))
        elif (
            isinstance(name, str)
            and isinstance(node.node, nodes.Name)
            and node.node.name == "macros"
            and name not in MACRO_NAMES
        ):
            out.append(
                (
                    "template-attribute",
                    f"macros.{name} is not available; macros offers " + ", ".join(sorted(MACRO_NAMES)),
                )
            )
    elif isinstance(node, nodes.Filter | nodes.Test):
        allowed = FILTER_NAMES if isinstance(node, nodes.Filter) else TESTS
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
        if not (isinstance(callee, nodes.Getattr) and callee.attr in (MACRO_NAMES | METHOD_NAMES)):
            what = callee.attr if isinstance(callee, nodes.Getattr) else getattr(callee, "name", "this")
            out.append(("template-call", f"calling {what!r} is not allowed; {HINT_CALLS}"))
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
        return [(path, value)] if has_template(value) else []
    out: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            out += _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            out += _strings(item, f"{path}[{index}]")
    return out
