"""The policy applied to one node's config: every field checked by what it is.

Fields declare what they are once, in the module's config model (``x-logidata-widget``: ``path``,
``sql``, ``sql-expression``, ``python-callable``, ``connection``); this walks a validated config and
checks each field by that kind, so a new module or field is covered by declaring it, not by remembering
to call a check. Every text is also a template and passes the template check.

``stage="validate"`` (store, CLI, builder, DAG factory: no I/O) checks what is known before a run:
templates, the static part of paths, SQL functions, callable names. ``stage="run"`` (a worker or a
preview, on the rendered config) adds what needs the environment: the connection's type. The engine
checks paths again when it opens them (after globs expand and symlinks resolve) and callables when it
imports them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from airflow_provider_logidata.security.errors import PolicyError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

Stage = Literal["validate", "run"]
TEMPLATE_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class Violation:
    """One refused field: ``path`` relative to the node's config (``expressions[0].expression``)."""

    path: str
    message: str
    rule: str


@dataclass(frozen=True)
class _Field:
    path: str
    value: Any
    widget: str | None
    conn_type: str | None
    owner: BaseModel  # the model holding the field (a path's sibling conn_id lives there)


def _join(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


@dataclass(frozen=True)
class _Declared:
    """One field of a config model class: where it is, what it is, whether anything below it is."""

    attribute: str
    key: str  # the JSON name (alias)
    widget: str | None
    conn_type: str | None
    nested: bool  # its type holds config models with declared fields (followed by the walk)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in getattr(annotation, "__args__", ()) or () for model in _models_in(arg)]


@functools.cache
def _declared(model: type[BaseModel]) -> tuple[_Declared, ...]:
    """The fields of a model class that the walk must visit (read once per class: the DAG processor
    checks every config of every pipeline at each parse, so fields that declare nothing are skipped)."""
    found = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        widget = extra.get("x-logidata-widget")
        conn_type = extra.get("x-logidata-conn-type")
        inner = _models_in(info.annotation)
        nested = any(item.__name__ in _STEP_MODELS or _declared(item) for item in inner)
        if not isinstance(widget, str) or widget == "column":
            widget = None
        if widget is None and not nested:
            continue
        conn = conn_type if isinstance(conn_type, str) else None
        found.append(_Declared(name, info.alias or name, widget, conn, nested))
    return tuple(found)


# Steps of tasks that run several nodes (a fused chain, an ELT path): ``{node_id, module, config}``.
_STEP_MODELS = frozenset({"ChainStepConfig", "EltNode"})


def _fields(model: BaseModel, prefix: str, category: str) -> Iterator[tuple[_Field, str]]:
    """Every declared field of a config model (paths, SQL, callables, connections) with the category of
    the node it belongs to (nested models, lists and the steps of multi-node tasks followed)."""
    nested = _nested_node(model)
    if nested is not None:  # a step of a fused chain or ELT path: checked as its own module declares
        yield from _fields(nested[1], _join(prefix, "config"), nested[0])
        return
    for field in _declared(type(model)):
        value = getattr(model, field.attribute)
        if field.widget is None and not field.nested:
            continue
        yield from _values(value, _join(prefix, field.key), field, model, category)


def _values(
    value: Any, path: str, field: _Declared, owner: BaseModel, category: str
) -> Iterator[tuple[_Field, str]]:
    if isinstance(value, BaseModel):
        yield from _fields(value, path, category)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _values(item, _join(path, index), field, owner, category)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _values(item, _join(path, str(key)), field, owner, category)
    elif isinstance(value, str) and field.widget is not None:
        yield _Field(path, value, field.widget, field.conn_type, owner), category


def _nested_node(model: BaseModel) -> tuple[str, BaseModel] | None:
    """A step of a task running several nodes (a fused chain, an ELT path): its category and config."""
    if type(model).__name__ not in _STEP_MODELS:
        return None
    module_name, config = getattr(model, "module", None), getattr(model, "config", None)
    if not isinstance(module_name, str) or not isinstance(config, dict):
        return None
    from airflow_provider_logidata.modules.registry import registry

    module = registry().get(module_name)
    if module is None:
        return None
    return module.category, module.config_model.model_validate(config)


def _templated(text: str) -> bool:
    return any(marker in text for marker in TEMPLATE_MARKERS)


def _check_field(field: _Field, category: str, stage: Stage) -> None:
    """Raise ``PolicyError`` if ``field`` breaks a rule of its kind."""
    value = field.value
    if field.widget == "path":
        _check_path(_with_conn(value, getattr(field.owner, "conn_id", None)), category, stage)
    elif field.widget in ("sql", "sql-expression"):
        if stage == "run" or not _templated(value):
            from airflow_provider_logidata.security.pg_sql import check_pg_sql

            if category == "source":  # a source.postgres query: one SELECT, run in PostgreSQL
                check_pg_sql(value, kind="query", dialect="postgres")
            else:
                # Transforms run in DuckDB (whose own validator checks statements) or, pushed down, in
                # PostgreSQL: their functions must pass the PostgreSQL deny list either way.
                check_pg_sql(value, kind="expression", dialect="duckdb")
    elif field.widget == "python-callable":
        from airflow_provider_logidata.security.callables import check_static

        check_static(value)
    elif field.widget == "connection" and stage == "run" and field.conn_type:
        from airflow_provider_logidata.security.connections import check_type

        check_type(value, field.conn_type)


def _with_conn(path: str, conn_id: Any) -> str:
    """``s3://bucket/key`` with a separate ``conn_id`` as the policy sees it: ``s3://conn_id@bucket/key``."""
    scheme, separator, rest = path.partition("://")
    if not separator or not isinstance(conn_id, str) or not conn_id or scheme.lower() in ("file", "local"):
        return path
    if "@" in rest.partition("/")[0]:
        return path
    return f"{scheme}://{conn_id}@{rest}"


def _check_path(value: str, category: str, stage: Stage) -> None:
    from airflow_provider_logidata.security import paths

    known = paths.static_prefix(value) if stage == "validate" else value
    if known is None:
        return  # starts with a template: checked once rendered
    if known != value:  # a folder prefix of a pattern or template: reading it is what can be checked
        paths.check_read(known, shown=value)
        return
    if category == "destination":
        paths.check_write(known)
    else:
        paths.check_read(known)


def check_config(
    category: str, config: BaseModel, *, stage: Stage, raw: Mapping[str, Any] | None = None
) -> list[Violation]:
    """Every field of ``config`` (a node of a ``category`` module) the policy refuses.

    At ``validate`` every text of the config is also a template to check: ``raw`` (the config as written,
    when the caller has it) is walked for that, else the model's JSON form.
    """
    found: list[Violation] = []
    if stage == "validate":
        from airflow_provider_logidata.security.template_check import check_strings

        texts = raw if raw is not None else config.model_dump(mode="json", by_alias=True)
        for path, error in check_strings(texts):
            found.append(Violation(path, str(error), error.rule))
    for field, field_category in _fields(config, "", category):
        if stage == "validate" and any(item.path == field.path for item in found):
            continue  # its template is refused already
        try:
            _check_field(field, field_category, stage)
        except PolicyError as error:
            found.append(Violation(field.path, str(error), error.rule))
    return found
