"""One operator class per module family, bound to each module by a generated subclass.

A module needs no operator code of its own: ``family_operator(definition)`` derives, once per module, a
subclass of its family's base (source, transform, multi-input/output transform, destination) that only
sets ``module_name`` and ``config_model``. The classes are exposed under the import paths hand-written
DAGs use (``operators.transforms.FilterRowsOperator``, ...) through :func:`exported`. Modules that do
more than their family (declaring lineage, say) name a hand-written class in ``ModuleDef.operator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.operators.base import (
    LogiDataDestinationOperator,
    LogiDataMultiOutputOperator,
    LogiDataOperator,
    LogiDataSourceOperator,
    LogiDataTransformOperator,
)

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import Category, ModuleDef

# The module users import a category's operators from (and the generated classes' ``__module__``).
HOMES: dict[str, str] = {
    "source": "airflow_provider_logidata.operators.sources",
    "transform": "airflow_provider_logidata.operators.transforms",
    "destination": "airflow_provider_logidata.operators.destinations",
}


def family_base(definition: ModuleDef) -> type[LogiDataOperator]:
    if definition.category == "source":
        return LogiDataSourceOperator
    if definition.category == "destination":
        return LogiDataDestinationOperator
    return LogiDataMultiOutputOperator if definition.multi else LogiDataTransformOperator


def family_operator(definition: ModuleDef) -> type[LogiDataOperator]:
    """The operator class of ``definition``, generated (``definition.operator_class()`` caches it)."""
    name = definition.class_name()
    return type(
        name,
        (family_base(definition),),
        {
            "__module__": HOMES[definition.category],
            "__qualname__": name,
            "__doc__": f"{definition.label}: {definition.description} "
            f"(config: ``{definition.config_model.__name__}``; module ``{definition.name}``).",
            "module_name": definition.name,
            "config_model": definition.config_model,
        },
    )


def exported(category: Category, attribute: str, home: str) -> type[LogiDataOperator]:
    """The operator class called ``attribute`` among ``category``'s modules, for a module ``__getattr__``."""
    from airflow_provider_logidata.modules.registry import registry

    for definition in registry():
        if definition.category == category and definition.class_name() == attribute:
            return definition.operator_class()
    raise AttributeError(f"module {home!r} has no attribute {attribute!r}")


def exported_names(category: Category) -> list[str]:
    from airflow_provider_logidata.modules.registry import registry

    return sorted(d.class_name() for d in registry() if d.category == category)
