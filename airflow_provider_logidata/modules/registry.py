"""The module registry: one place that knows every module, keyed by name.

The spec validator, the DAG factory and (later) the builder's palette all read from here instead of
branching on module names, so adding a module is one ``register`` call.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from airflow_provider_logidata.modules.base import ModuleConfig

Category = Literal["source", "transform", "destination"]
CATEGORIES: tuple[Category, ...] = ("source", "transform", "destination")
# How a module's result depends on the row order of its inputs (``ModuleDef.row_order``).
RowOrder = Literal["needs", "keeps", "discards"]


@dataclass(frozen=True)
class ModuleDef:
    """What the rest of the system needs to know about one module.

    ``operator`` is a dotted path resolved on first use, so validating a spec never imports Airflow's
    operator machinery.
    """

    name: str
    category: Category
    label: str
    description: str
    config_model: type[ModuleConfig]
    operator: str
    min_inputs: int = 1
    max_inputs: int | None = 1
    outputs: tuple[str, ...] = ("out",)
    # Named inputs (a join's "left" and "right"): every incoming edge names one in ``target_port``, each
    # at most once. Empty means unnamed inputs, taken in edge order (a union's inputs).
    input_ports: tuple[str, ...] = ()
    # A single-input, single-output transform whose engine step is a SQL builder: the factory may run a
    # linear run of such nodes inside one task (``fuse_chains``).
    fusable: bool = False
    # Whether the module's result depends on its inputs' row order: "needs" (it may: the default for any
    # module not known to be safe), "keeps" (row by row, its output follows its input's order, so whether
    # the order matters is up to its own consumers) or "discards" (the same result for any input order:
    # a DISTINCT, a GROUP BY). A callable decides from the node's config. It lets a source skip keeping
    # row order where nothing downstream can tell (``dag_factory.row_order``): an ordered parallel write
    # is measurably slower than an unordered one.
    row_order: RowOrder | Callable[[Mapping[str, Any]], RowOrder] = "needs"
    icon: str = ""
    _operator_cls: list[type] = field(default_factory=list, repr=False, compare=False)

    def operator_class(self) -> type[Any]:
        if not self._operator_cls:
            module_name, _, attr = self.operator.rpartition(".")
            self._operator_cls.append(getattr(importlib.import_module(module_name), attr))
        return self._operator_cls[0]

    def input_order(self, config: Mapping[str, Any]) -> RowOrder:
        """:attr:`row_order` for a node with this ``config`` (the spec's JSON form)."""
        return self.row_order(config) if callable(self.row_order) else self.row_order

    def output_key(self, port: str) -> str:
        """XCom key under which a task of this module publishes the staging handle of ``port``."""
        return output_xcom_key(port)

    def inputs_text(self) -> str:
        if self.max_inputs == self.min_inputs:
            return f"exactly {self.min_inputs}"
        if self.max_inputs is None:
            return f"at least {self.min_inputs}"
        return f"{self.min_inputs} to {self.max_inputs}"


def output_xcom_key(port: str) -> str:
    """Every output port's handle is pushed under this key; the first port is also the return value."""
    return f"output__{port}"


def input_ref(task_id: str, port: str | None = None) -> str:
    """How an operator names one input: the upstream task id, plus ``:port`` for a non-default output.

    Task ids cannot contain ':', so the form is unambiguous; hand-written DAGs use the same strings.
    """
    return f"{task_id}:{port}" if port else task_id


def split_input_ref(ref: str) -> tuple[str, str | None]:
    task_id, _, port = ref.partition(":")
    return task_id, port or None


class ModuleRegistry:
    def __init__(self) -> None:
        self._modules: dict[str, ModuleDef] = {}

    def register(self, module: ModuleDef) -> ModuleDef:
        if module.name in self._modules and self._modules[module.name] != module:
            raise ValueError(f"module {module.name!r} is already registered")
        if module.category not in CATEGORIES:
            raise ValueError(f"module {module.name!r}: category must be one of {CATEGORIES}")
        self._modules[module.name] = module
        return module

    def get(self, name: str) -> ModuleDef | None:
        return self._modules.get(name)

    def __getitem__(self, name: str) -> ModuleDef:
        try:
            return self._modules[name]
        except KeyError:
            raise KeyError(f"unknown module {name!r}; known modules: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __iter__(self) -> Iterator[ModuleDef]:
        return iter(sorted(self._modules.values(), key=lambda m: (CATEGORIES.index(m.category), m.name)))

    def names(self) -> list[str]:
        return sorted(self._modules)


_REGISTRY: ModuleRegistry | None = None


def registry() -> ModuleRegistry:
    """The process-wide registry with the built-in modules loaded."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = ModuleRegistry()
        from airflow_provider_logidata.modules import builtin

        builtin.register_all(reg)
        _REGISTRY = reg
    return _REGISTRY
