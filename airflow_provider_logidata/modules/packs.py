"""Module packs: modules that installed distributions add through the ``logidata.modules`` entry points.

An entry point names a module file (a Python module declaring ``MODULE`` or ``MODULES``) or a
:class:`ModuleDef` itself::

    [project.entry-points."logidata.modules"]
    mask_text = "logidata_example_pack.mask_text"

A pack's modules then appear in the schema, the palette, validation, the factory, previews and
suggestions exactly like the built-in ones. A pack that fails (an import error, something that is not a
module, a config model that cannot produce its JSON Schema, a name already taken) is recorded in
``ModuleRegistry.pack_errors`` with its distribution's name and logged; it never stops the built-in
modules or the other packs from loading.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import CATEGORIES, ModuleDef, PackError

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleRegistry

GROUP = "logidata.modules"
log = logging.getLogger(__name__)


def load_packs(reg: ModuleRegistry, points: list[EntryPoint] | None = None) -> None:
    """Register every pack module that passes :func:`problem_with`; record the others."""
    for point in sorted(entry_points(group=GROUP) if points is None else points, key=lambda p: p.name):
        distribution = point.dist.name if point.dist is not None else "(unknown distribution)"
        try:
            modules = _modules_of(point.load())
        except Exception as error:
            _record(
                reg, PackError(distribution, point.name, f"cannot be loaded: {type(error).__name__}: {error}")
            )
            continue
        if isinstance(modules, str):
            _record(reg, PackError(distribution, point.name, modules))
            continue
        for module in modules:
            problem = problem_with(module, reg)
            if problem:
                _record(reg, PackError(distribution, point.name, f"module {module.name!r}: {problem}"))
            else:
                reg.register(replace(module, pack=distribution))


def _modules_of(target: Any) -> list[ModuleDef] | str:
    """The modules an entry point names, or why it names none."""
    if isinstance(target, ModuleDef):
        return [target]
    if isinstance(target, ModuleType):
        found = getattr(target, "MODULES", None) or (
            [target.MODULE] if isinstance(getattr(target, "MODULE", None), ModuleDef) else None
        )
        if found and all(isinstance(m, ModuleDef) for m in found):
            return list(found)
        return f"module {target.__name__!r} declares neither MODULE (a ModuleDef) nor MODULES (ModuleDefs)"
    return f"names a {type(target).__name__}, not a module file or a ModuleDef"


def problem_with(module: ModuleDef, reg: ModuleRegistry) -> str:
    """Why ``module`` cannot be registered ('' when it can)."""
    if module.name in reg:
        return (
            "the name is already taken by " + (reg[module.name].pack or "a built-in module") + "; rename it"
        )
    if module.category not in CATEGORIES:
        return f"category must be one of {', '.join(CATEGORIES)}, not {module.category!r}"
    if not (isinstance(module.config_model, type) and issubclass(module.config_model, ModuleConfig)):
        return "config_model must be a subclass of airflow_provider_logidata.modules.base.ModuleConfig"
    try:
        module.config_model.model_json_schema()
    except Exception as error:
        return f"config_model {module.config_model.__name__} has no JSON Schema: {error}"
    if module.duckdb is None and not module.operator:
        return "it has no DuckDB builder (duckdb=...) and no operator of its own"
    return ""


def _record(reg: ModuleRegistry, error: PackError) -> None:
    reg.pack_errors.append(error)
    log.warning("%s", error)
