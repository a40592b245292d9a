"""Sandboxed Jinja for the strings of a node's config (``{{ ds_nodash }}`` in a path, a param in a filter).

Airflow renders template fields with the whole task context: ``conn``, ``var``, ``ti``, ``dag_run``,
``conf``... A pipeline editor (Airflow's User role) may not read connection secrets or Airflow's
configuration, so LogiData renders config strings itself, here, with an allow-listed context of plain
values (dates, ids, params, a few date macros) and an allow-list of Jinja constructs
(``security.template_rules``):

* ``check_template`` (``security.template_check``) parses the text and walks its syntax tree: only
  expressions and if/else, only the allowed names, no ``_`` attributes, a short list of filters, tests and
  method calls. The validator (through ``check_strings``), the DAG factory, previews and runs all call it: a
  refusal names the rule.
* :func:`render` (here, with the contexts it renders with) checks again and renders in an
  :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (``security.template_env``) that enforces the same
  rules at run time (a dynamic ``params[name]`` cannot reach ``__class__``) and bounds what a template may
  allocate (``'a' * 10**9`` is refused before it is built).

Imported by the DAG processor for every pipeline: jinja2 only (no Airflow); the hot path, a string without
``{{``, ``{%`` or ``{#``, returns at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import jinja2

from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.template_check import analysis, check_template, has_template
from airflow_provider_logidata.security.template_env import environment, render_budget
from airflow_provider_logidata.security.template_rules import (
    DATE_NAMES,
    MACROS,
    MAX_OUTPUT_CHARS,
    RUN_DATE_NAMES,
    refusal_text,
)

__all__ = [
    "TemplateRenderError",
    "render",
    "render_config",
    "safe_context",
    "sample_context",
]


# --- rendering ------------------------------------------------------------------------------------------


class TemplateRenderError(ValueError):
    """An allowed template that failed to render: an undefined param, a type error, a bad date format."""


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` rendered in the sandbox with the allow-listed keys of ``context`` only.

    Raises :class:`PolicyError` for a refused template (checked again here: a run never trusts that
    validation happened) or a result over :data:`MAX_OUTPUT_CHARS`, :class:`TemplateRenderError` when it
    fails to render.
    """
    if not has_template(text):
        return text
    check_template(text)
    values = _values(context)
    names = analysis(text)[1]
    missing = sorted(names - values.keys())
    if missing:
        why = (
            " (a run without a logical date has no ds, ts or data interval)"
            if RUN_DATE_NAMES.intersection(missing)
            else ""
        )
        raise TemplateRenderError(
            f"the template uses {', '.join(missing)}, which this run does not have{why}; available: "
            + ", ".join(sorted(values))
        )
    token = render_budget.set([MAX_OUTPUT_CHARS])
    try:
        template = environment().from_string(text)
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
        raise PolicyError(refusal_text("template-attribute", str(error)), rule="template-attribute") from None
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
        render_budget.reset(token)


def render_config(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every string nested in dicts and lists rendered by :func:`render`; keys unchanged.

    Errors name the field (``expressions[0].expression: ...``) and keep their type and rule.
    """
    return _render_value(value, context, "")


def _render_value(value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        if not has_template(value):
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
    for name in DATE_NAMES:
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
