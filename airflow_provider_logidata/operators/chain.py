"""One task running a linear run of transform nodes (a pipeline with ``fuse_chains``).

Usable by hand too: ``FusedChainOperator(task_id=..., config={"steps": [{"node_id", "module",
"config"}, ...]}, inputs=[...])``. Each step's config is validated by its own module's model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.operators.base import LogiDataTransformOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle


class ChainStepConfig(ModuleConfig):
    node_id: str = Field(min_length=1, description="Id of the pipeline node this step runs.")
    module: str = Field(min_length=1, description="A fusable transform module.")
    config: dict[str, Any] = Field(default_factory=dict)


class FusedChainConfig(ModuleConfig):
    steps: list[ChainStepConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_are_fusable(self) -> FusedChainConfig:
        from airflow_provider_logidata.modules.registry import registry

        reg = registry()
        for index, step in enumerate(self.steps):
            module = reg.get(step.module)
            if module is None or not module.fusable:
                fusable = ", ".join(m.name for m in reg if m.fusable)
                raise ValueError(f"steps[{index}]: {step.module!r} cannot run in a chain; fusable: {fusable}")
            step.config = module.config_model.model_validate(step.config).model_dump(mode="json")
        return self


class FusedChainOperator(LogiDataTransformOperator):
    """Runs several transform nodes in one DuckDB connection; logs rows and time per node."""

    module_name = "fused_chain"
    config_model = FusedChainConfig

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine.chain import ChainStep, StepMetrics, run_chain

        assert isinstance(config, FusedChainConfig)
        steps = [ChainStep(node_id=s.node_id, module=s.module, config=s.config) for s in config.steps]
        figures: list[StepMetrics] = []
        handle = run_chain(
            steps, handles, self.staging_uri(context), input_ids=input_ids, log=self.log, metrics=figures
        )
        self.node_metrics = {figure.node_id: figure.as_dict() for figure in figures}
        return handle
