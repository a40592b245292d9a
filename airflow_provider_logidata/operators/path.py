"""One task running a whole linear path: a file source, transforms, a destination (``fuse: paths``).

Usable by hand too::

    FusedPathOperator(
        task_id="load_orders",  # the destination's node id, as the DAG factory names it
        config={
            "source": {"node_id": "read", "module": "source.file", "config": {"path": "/data/o.csv"}},
            "steps": [{"node_id": "tidy", "module": "clean_text", "config": {...}}],
            "destination": {"node_id": "load_orders", "module": "destination.postgres", "config": {...}},
        },
    )

Each node's config is validated by its own module's model, rendered in the same template sandbox and
checked by the same security policy as its own operator would (``security.policy`` follows the nodes).
The source's path is checked again when it is opened (``engine.sources.open_files``). The run is
``engine.path.run_path``; the task pushes one ``logidata_metrics`` entry per node.

Lineage is what the unfused source and destination tasks report (``operators.lineage``), so turning
fusion on or off changes nothing a consumer sees: the source's and a file destination's assets as
``inlets``/``outlets``, and with the OpenLineage provider installed one ``OperatorLineage`` with the
source's dataset as input and the destination's as output, each named by its node's own operator class
(no dataset where that class declares none: the PostgreSQL operators). On complete the input carries
the schema the source read, the output the schema the destination received and its ``columnLineage``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.operators.base import LogiDataOperator
from airflow_provider_logidata.operators.chain import ChainStepConfig  # noqa: TC001 (pydantic field)
from airflow_provider_logidata.operators.lineage import (
    asset_for,
    file_lineage_uri,
    is_templated,
    log,
    node_openlineage_uri,
    openlineage_datasets,
    openlineage_installed,
    openlineage_name,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle

# Kept in step with ``engine.path`` (not imported: the DAG processor does not import the engine).
PATH_SOURCES = ("source.file",)
PATH_DESTINATIONS = ("destination.postgres", "destination.file")


class FusedPathConfig(ModuleConfig):
    source: ChainStepConfig
    steps: list[ChainStepConfig] = Field(default_factory=list)
    destination: ChainStepConfig

    @model_validator(mode="after")
    def _validate_nodes(self) -> FusedPathConfig:
        from airflow_provider_logidata.modules.registry import registry

        reg = registry()
        if self.source.module not in PATH_SOURCES:
            raise ValueError(
                f"source: a fused path starts at {', '.join(PATH_SOURCES)}, not {self.source.module!r}"
            )
        if self.destination.module not in PATH_DESTINATIONS:
            raise ValueError(
                f"destination: a fused path ends at {', '.join(PATH_DESTINATIONS)}, "
                f"not {self.destination.module!r}"
            )
        for index, step in enumerate(self.steps):
            module = reg.get(step.module)
            if module is None or not module.fusable:
                fusable = ", ".join(m.name for m in reg if m.fusable)
                raise ValueError(f"steps[{index}]: {step.module!r} cannot run in a path; fusable: {fusable}")
        for node in (self.source, *self.steps, self.destination):
            node.config = reg[node.module].config_model.model_validate(node.config).model_dump(mode="json")
        return self


class FusedPathOperator(LogiDataOperator):
    """Reads a file source, runs its transforms and loads its destination in one DuckDB connection.

    Declares the source's file as an inlet and a file destination as an outlet ``Asset`` (as the source
    and destination operators would), and reports both datasets to OpenLineage as those operators
    would; logs and pushes rows and time per node.
    """

    module_name = "fused_path"
    config_model = FusedPathConfig
    ui_color = "#dcfce7"
    # For OpenLineage, set by ``run`` when the provider is installed: the columns the source read and the
    # destination received (``[[name, arrow type], ...]`` as in staging handles) and the column lineage
    # the destination's input handle would carry (``schema.lineage_graph``).
    _source_schema: list[list[str]] | None = None
    _output_schema: list[list[str]] | None = None
    _column_lineage: dict[str, Any] | None = None

    def declare_lineage(self) -> None:
        try:
            source = self.config["source"]["config"]
            inlet = asset_for(file_lineage_uri(source))
            if inlet is not None:
                self.inlets.append(inlet)
            destination = self.config["destination"]
            if destination["module"] == "destination.file":
                outlet = asset_for(file_lineage_uri(destination["config"], allow_glob=True))
                if outlet is not None:
                    self.outlets.append(outlet)
        except Exception as error:  # lineage never breaks a DAG
            log.warning("LogiData lineage of %s: skipped: %s", self.task_id, error)

    def input_task_ids(self) -> list[str]:
        """A path reads no staged inputs (its first node is a source), even after a sensor."""
        return []

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> dict[str, Any]:
        from airflow_provider_logidata.engine.chain import ChainStep, StepMetrics
        from airflow_provider_logidata.engine.path import run_path

        assert isinstance(config, FusedPathConfig)

        def step(node: ChainStepConfig) -> ChainStep:
            return ChainStep(node_id=node.node_id, module=node.module, config=node.config)

        figures: list[StepMetrics] = []
        self._source_schema = self._output_schema = self._column_lineage = None
        lineage: dict[str, Any] = {}

        def bound(*relations: Any) -> None:
            try:  # lineage never fails the task
                lineage.update(path_lineage(config, *relations))
            except Exception:
                log.debug("LogiData lineage: no schema or column lineage for %s", self.task_id, exc_info=True)

        result = run_path(
            step(config.source),
            [step(s) for s in config.steps],
            step(config.destination),
            log=self.log,
            metrics=figures,
            bound=bound if openlineage_installed() else None,
        )
        self.node_metrics = {figure.node_id: figure.as_dict() for figure in figures}
        self._source_schema = lineage.get("source")
        self._output_schema = lineage.get("output")
        self._column_lineage = lineage.get("columns")
        return result

    # --- OpenLineage (optional provider) -------------------------------------------------------------

    def get_openlineage_facets_on_start(self) -> Any:
        return self._openlineage(with_schema=False)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._openlineage(with_schema=True)

    def _openlineage(self, *, with_schema: bool) -> Any:
        """``OperatorLineage(inputs=[source], outputs=[destination])``, each side as its node's own task
        reports it (``[]`` for a side without a dataset, or whose dataset failed); ``None`` without the
        provider or on any other error."""
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage
        except Exception:
            log.debug("LogiData lineage: the OpenLineage provider is not installed")
            return None
        try:
            inputs = self._openlineage_side("source", self._source_schema if with_schema else None, None)
            outputs = self._openlineage_side(
                "destination",
                self._output_schema if with_schema else None,
                self._column_lineage if with_schema else None,
            )
            return OperatorLineage(inputs=inputs, outputs=outputs)
        except Exception:
            log.debug("LogiData lineage: OpenLineage facets of %s failed", self.task_id, exc_info=True)
            return None

    def _openlineage_side(
        self, side: str, schema: list[list[str]] | None, column_lineage: dict[str, Any] | None
    ) -> list[Any]:
        try:
            node = self.config[side]
            return openlineage_datasets(
                node_openlineage_uri(node["module"], node["config"]), schema, column_lineage
            )
        except Exception:
            log.debug("LogiData lineage: OpenLineage %s of %s failed", side, self.task_id, exc_info=True)
            return []


def path_lineage(
    config: FusedPathConfig,
    con: Any,
    source_view: str,
    relation: str,
    built: list[tuple[str, list[str], str]],
) -> dict[str, Any]:
    """The source's columns, the destination's and the destination's column lineage, as the unfused
    source and destination tasks report them (``LineageMixin``), from the run's own bound path
    (``engine.path.run_path``'s ``bound``: nothing is read or bound again, a ``LIMIT 0`` per schema).

    The schemas are the Arrow export's types, which staging handles carry; the lineage is the source's
    ``dataset_lineage`` carried through the steps' SQL (``schema.lineage_graph.chain_lineage``), as a
    chain task carries it; not through a step that computes its result in Python (``self_materialised``),
    as its task carries no column lineage either.
    """
    from airflow_provider_logidata.engine import builders, duck, staging
    from airflow_provider_logidata.schema.lineage_graph import chain_lineage, dataset_lineage

    def schema_of(name: str) -> list[list[str]]:
        reader = duck.stream(con, f"SELECT * FROM {name} LIMIT 0")
        reader.read_all()
        return staging.schema_to_json(reader.schema)

    found: dict[str, Any] = {"source": schema_of(source_view), "output": schema_of(relation)}
    if any(getattr(builders.step(s.module), "self_materialised", True) for s in config.steps):
        return found
    source = config.source
    uri = node_openlineage_uri(source.module, source.config)
    if not uri or is_templated(uri):
        return found
    columns = [name for name, _ in found["source"]]
    lineage: dict[str, Any] | None = dataset_lineage(*openlineage_name(uri), columns)
    if built:
        lineage = chain_lineage(built, [name for name, _ in found["output"]], lineage)
    found["columns"] = lineage
    return found
