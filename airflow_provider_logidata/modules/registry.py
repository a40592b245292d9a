"""The module registry: one place that knows every module, keyed by name.

The spec validator, the DAG factory, the engine, previews, suggestions and the builder's palette all
read from here instead of branching on module names. Each built-in module is one file under
``modules/<sources|transforms|destinations>/`` declaring a :class:`ModuleDef` named ``MODULE``;
installed distributions add theirs through the ``logidata.modules`` entry points (``modules.packs``).
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

    ``operator`` is the dotted path of a hand-written operator class (one that adds lineage, say),
    resolved on first use so validating a spec never imports Airflow's operator machinery; by default
    the module runs under its family's operator (``operators.family``). The builders are plain
    functions of the module's file; they import the engine inside their bodies, because the DAG
    processor imports every module file on each parse.
    """

    name: str
    category: Category
    label: str
    description: str
    config_model: type[ModuleConfig]
    operator: str = ""
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
    # The DuckDB builder. A source: a context manager ``open(config, node_id, log)`` yielding a
    # ``DuckQuery`` or Arrow batches; a one-in-one-out transform: ``build(ctx, relation, columns) ->
    # SELECT``; a ``multi`` transform: ``build(ctx, inputs) -> {port: SELECT}``; a destination:
    # ``write(config, node_id, handles, log) -> result``.
    duckdb: Callable[..., Any] | None = None
    # Whether the transform's builder takes all its inputs and returns SQL per output port (several
    # inputs or outputs: join, route, ...), run by ``engine.multi`` rather than as a chain step.
    multi: bool = False
    # The ELT builder, run inside the database: ``build(elt_ctx, relation, columns) -> SELECT`` (a ``multi``
    # transform: ``build(elt_ctx, inputs) -> {port: SELECT}``), written once against ``elt_ctx.dialect``
    # (``engine.dialects``); and why a config cannot run there, asked per dialect by the planner
    # (``refusal(config, dialect) -> str | None``).
    elt: Callable[..., Any] | None = None
    elt_refusal: Callable[[Any, Any], str | None] | None = None
    # Chain traits of a one-in-one-out transform (``engine.chain``): one output row per input row (no
    # count needed after it); must consume its whole input before its first row (a sort); hands on a
    # file of its own (reading its output never recomputes earlier steps); and, per config, whether
    # its builder reads its input more than once (a pre-query, a statistic subquery).
    keeps_rows: bool = False
    blocking: bool = False
    self_materialised: bool = False
    rescans: Callable[[Any], bool] | None = None
    # What design-time checks may assume (``spec.incremental``, ``spec.row_keys``, previews): every output
    # row is one input row, computed from that row alone or kept as is (a cleaning step, a filter, a
    # sort); the output rows are some of the input rows, unchanged (a filter: previews mark the others
    # removed); and, for a node's JSON config, how it drops, renames or rewrites a column
    # (``changes_column(config, column) -> "drops" | "renames" | ... | ""``).
    row_wise: bool = False
    subset_rows: bool = False
    changes_column: Callable[[Mapping[str, Any], str], str] | None = None
    # The class name of the generated operator (default: from the module name, ``FilterRowsOperator``).
    operator_name: str = ""
    # The distribution that installed the module ("" for the built-in ones).
    pack: str = ""
    _operator_cls: list[type] = field(default_factory=list, repr=False, compare=False)

    def operator_class(self) -> type[Any]:
        if not self._operator_cls:
            if self.operator:
                module_name, _, attr = self.operator.rpartition(".")
                self._operator_cls.append(getattr(importlib.import_module(module_name), attr))
            else:
                from airflow_provider_logidata.operators.family import family_operator

                self._operator_cls.append(family_operator(self))
        return self._operator_cls[0]

    def class_name(self) -> str:
        """``FilterRowsOperator``; ``FileSourceOperator`` for ``source.file``."""
        if self.operator_name:
            return self.operator_name
        kind, _, rest = self.name.partition(".")
        words = [*rest.split("_"), kind] if rest and kind in CATEGORIES else self.name.split("_")
        return "".join(word.capitalize() for word in words if word) + "Operator"

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
        # Module packs that failed to load (import error, bad module, clashing name): reported by the
        # CLI, the API and the factory report; the modules that did load are unaffected.
        self.pack_errors: list[PackError] = []

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
_BUILTIN_REGISTRY: ModuleRegistry | None = None


def builtin_registry() -> ModuleRegistry:
    """The built-in modules alone: what the committed JSON Schema describes, whatever packs are installed."""
    global _BUILTIN_REGISTRY
    if _BUILTIN_REGISTRY is None:
        reg = ModuleRegistry()
        from airflow_provider_logidata.modules import builtin

        builtin.register_all(reg)
        _BUILTIN_REGISTRY = reg
    return _BUILTIN_REGISTRY


def registry() -> ModuleRegistry:
    """The process-wide registry: the built-in modules and those of the installed module packs."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = ModuleRegistry()
        from airflow_provider_logidata.modules import builtin, packs

        builtin.register_all(reg)
        packs.load_packs(reg)
        _REGISTRY = reg
    return _REGISTRY


@dataclass(frozen=True)
class PackError:
    """A module pack (or one module of it) that was not loaded, and why."""

    distribution: str
    entry_point: str
    message: str

    def __str__(self) -> str:
        return f"module pack {self.distribution!r} (entry point {self.entry_point!r}): {self.message}"
