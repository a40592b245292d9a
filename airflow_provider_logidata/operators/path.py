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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.operators.base import LogiDataOperator
from airflow_provider_logidata.operators.chain import ChainStepConfig  # noqa: TC001 (pydantic field)
from airflow_provider_logidata.operators.lineage import asset_for, file_lineage_uri, log

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
    and destination operators would); logs and pushes rows and time per node.
    """

    module_name = "fused_path"
    config_model = FusedPathConfig
    ui_color = "#dcfce7"

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
        result = run_path(
            step(config.source),
            [step(s) for s in config.steps],
            step(config.destination),
            log=self.log,
            metrics=figures,
        )
        self.node_metrics = {figure.node_id: figure.as_dict() for figure in figures}
        return result
