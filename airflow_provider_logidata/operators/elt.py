"""Tasks running a pushed-down sub-graph inside PostgreSQL (ELT), built by the DAG factory for the
sub-graphs ``dag_factory.elt_plan`` finds; each task is named after the sub-graph's last node.

:class:`ELTOperator`: ``source.postgres -> transforms -> destination.postgres``, nothing leaves the
database. Config: ``{"source": {node_id, config}, "steps": [{node_id, module, config}, ...],
"destination": {node_id, config}}``; each config is validated by its module's own model. Returns the
destination's result plus ``"engine": "elt"`` and the SQL that ran.

:class:`ELTReadOperator`: a partial pushdown; the sub-graph up to its exit runs in PostgreSQL and only its
result leaves the database, staged (the task returns the staging handle) for the nodes after it. An exit
with several outputs (a route, a quality_check) stages each port in its own file and pushes its handle
under ``output__<port>``, returning the first port's, exactly as ``LogiDataMultiOutputOperator`` does.

Both push the run metrics (XCom ``logidata_metrics``, one entry per node; ``engine.elt.elt_metrics``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig
from airflow_provider_logidata.operators.base import LogiDataOperator
from airflow_provider_logidata.operators.postgres import CursorSourceMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle


# The run-metrics XCom the builder's run overlay reads (docs/builder-api.md, api/runs.py).
METRICS_XCOM_KEY = "logidata_metrics"


class EltInput(ModuleConfig):
    node_id: str = Field(min_length=1)
    port: str | None = None  # the step's named input (a join's left/right)


class EltNode(ModuleConfig):
    node_id: str = Field(min_length=1)
    module: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    # A graph's step: where it reads from (empty: the step before it, or the source).
    inputs: list[EltInput] = Field(default_factory=list)
    # False: nothing downstream observes the step's row order, so a join need not keep the ETL order.
    keep_order: bool = True


class EltConfig(ModuleConfig):
    source: EltNode
    sources: list[EltNode] = Field(default_factory=list, description="A graph's other sources.")
    steps: list[EltNode] = Field(default_factory=list)
    destination: EltNode
    # A graph loading several destinations (a branch): the others; each destination's ``inputs`` then
    # names the node it loads.
    destinations: list[EltNode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _validate_configs(self) -> EltConfig:
        from airflow_provider_logidata.modules.registry import registry

        reg = registry()
        sources = (self.source, *self.sources)
        sinks = (self.destination, *self.destinations)
        if any(s.module != "source.postgres" for s in sources) or any(
            d.module != "destination.postgres" for d in sinks
        ):
            raise ValueError("ELT runs source.postgres -> transforms -> destination.postgres only")
        if self.destinations and any(len(d.inputs) != 1 for d in sinks):
            raise ValueError("each of several destinations names the one node it loads (inputs)")
        for index, step in enumerate(self.steps):
            if step.module not in reg or reg[step.module].elt is None:
                raise ValueError(f"steps[{index}]: {step.module!r} has no PostgreSQL builder")
        for node in (*sources, *self.steps, *sinks):
            node.config = (
                reg[node.module]
                .config_model.model_validate(node.config)
                .model_dump(mode="json", by_alias=True)
            )
        return self


class EltReadConfig(ModuleConfig):
    """A partial pushdown: its sources and steps, the last step (the exit) naming the task."""

    source: EltNode
    sources: list[EltNode] = Field(default_factory=list, description="A graph's other sources.")
    steps: list[EltNode] = Field(min_length=1)

    @model_validator(mode="after")
    def _validate_configs(self) -> EltReadConfig:
        from airflow_provider_logidata.modules.registry import registry

        reg = registry()
        if any(s.module != "source.postgres" for s in (self.source, *self.sources)):
            raise ValueError("a partial pushdown reads source.postgres nodes only")
        for index, step in enumerate(self.steps):
            if step.module not in reg or reg[step.module].elt is None:
                raise ValueError(f"steps[{index}]: {step.module!r} has no PostgreSQL builder")
        for node in (self.source, *self.sources, *self.steps):
            node.config = (
                reg[node.module]
                .config_model.model_validate(node.config)
                .model_dump(mode="json", by_alias=True)
            )
        return self


def _steps(nodes: list[EltNode]) -> list[Any]:
    from airflow_provider_logidata.engine.elt import EltStep
    from airflow_provider_logidata.modules.registry import registry

    reg = registry()
    return [
        EltStep(
            s.node_id,
            s.module,
            reg[s.module].config_model.model_validate(s.config),
            tuple((i.node_id, i.port) for i in s.inputs),
            keep_order=s.keep_order,
        )
        for s in nodes
    ]


class ELTReadOperator(CursorSourceMixin, LogiDataOperator):
    """Runs a sub-graph in PostgreSQL and stages only its result (partial pushdown); returns the handle."""

    module_name = "elt"
    config_model = EltReadConfig
    ui_color = "#fef3c7"
    pushes_own_metrics = True

    def input_task_ids(self) -> list[str]:
        return []

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> Any:
        from airflow_provider_logidata.engine.elt import elt_metrics
        from airflow_provider_logidata.engine.elt_read import read_elt, read_elt_ports
        from airflow_provider_logidata.modules.registry import output_xcom_key, registry

        assert isinstance(config, EltReadConfig)
        source = PostgresSourceConfig.model_validate(config.source.config)
        extra = {s.node_id: PostgresSourceConfig.model_validate(s.config) for s in config.sources}
        steps = _steps(config.steps)
        path = " -> ".join([config.source.node_id, *extra, *(s.node_id for s in steps)])
        # An exit with several outputs (a route, a quality_check) stages each port as the ETL multi-output
        # operator does (``LogiDataMultiOutputOperator``), so ``task_id:port`` inputs read them unchanged.
        outputs = registry()[config.steps[-1].module].outputs
        self.log.info(
            "engine elt: %s runs inside PostgreSQL (%s), %s staged",
            path,
            source.conn_id,
            f"the rows of its outputs {', '.join(outputs)} are" if len(outputs) > 1 else "its result is",
        )
        interval = None
        if source.incremental is not None and source.incremental.mode == "data_interval":
            from airflow_provider_logidata.engine import incremental

            owner = f"source.postgres node {config.source.node_id!r}"
            interval = incremental.run_data_interval(context, owner=owner)
        started = time.monotonic()
        common: dict[str, Any] = {
            "sources": extra,
            "log": self.log,
            "interval": interval,
            "dag_id": self.dag_id,
            "cursor": None,
        }
        # A cursor source in the sub-graph (it comes first) reads from the smallest cursor of the
        # destinations after this task, as its own task would.
        if source.incremental is not None and source.incremental.mode == "cursor":
            owner = f"source.postgres node {config.source.node_id!r}"
            common["cursor"], _destinations = self.cursor_read(config.source.node_id, context, owner=owner)
        if len(outputs) > 1:
            uris = {port: self.staging_uri(context, port) for port in outputs}
            ports, text = read_elt_ports(config.source.node_id, source, steps, uris, **common)
            for port in outputs:
                context["ti"].xcom_push(key=output_xcom_key(port), value=ports[port])
            result: dict[str, Any] = {**ports[outputs[0]], "sql": text}
            rows = sum(int(handle["rows"]) for handle in ports.values())  # every output port, as in ETL
        else:
            result = dict(read_elt(config.source.node_id, source, steps, self.staging_uri(context), **common))
            rows = result["rows"]
        metrics = elt_metrics([config.source.node_id, *extra], steps, None, rows, time.monotonic() - started)
        self.node_metrics = metrics["nodes"]
        context["ti"].xcom_push(key=METRICS_XCOM_KEY, value=metrics)
        return result


class ELTOperator(LogiDataOperator):
    """Runs a whole postgres -> transforms -> postgres path as SQL in the database, in one transaction."""

    module_name = "elt"
    config_model = EltConfig
    ui_color = "#fef3c7"
    pushes_own_metrics = True

    def input_task_ids(self) -> list[str]:
        return []

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> dict[str, Any]:
        from airflow_provider_logidata.engine import incremental
        from airflow_provider_logidata.engine.elt import EltSink, branch_metrics, elt_metrics, run_elt

        assert isinstance(config, EltConfig)
        source = PostgresSourceConfig.model_validate(config.source.config)
        destination = PostgresDestinationConfig.model_validate(config.destination.config)
        interval = None
        if source.incremental is not None and source.incremental.mode == "data_interval":
            owner = f"source.postgres node {config.source.node_id!r}"
            interval = incremental.run_data_interval(context, owner=owner)
        steps = _steps(config.steps)
        extra = {s.node_id: PostgresSourceConfig.model_validate(s.config) for s in config.sources}
        path = " -> ".join(
            [config.source.node_id, *extra, *(s.node_id for s in steps), config.destination.node_id]
        )
        self.log.info("engine elt: %s runs inside PostgreSQL (%s)", path, destination.conn_id)
        started = time.monotonic()
        result = run_elt(
            config.source.node_id,
            source,
            steps,
            config.destination.node_id,
            destination,
            interval=interval,
            log=self.log,
            sources=extra,
            dag_id=self.dag_id,
            sinks=[
                EltSink(d.node_id, PostgresDestinationConfig.model_validate(d.config), d.inputs[0].node_id)
                for d in (*config.destinations, config.destination)
            ]
            if config.destinations
            else None,
        )
        # One entry per node of the path, pushed here (``pushes_own_metrics``): the base operator would
        # report the task as one node.
        seconds = time.monotonic() - started
        source_ids = [config.source.node_id, *extra]
        if config.destinations:
            loaded = {node_id: load["rows"] for node_id, load in result["destinations"].items()}
            metrics = branch_metrics(source_ids, steps, loaded, seconds)
        else:
            metrics = elt_metrics(source_ids, steps, config.destination.node_id, result["rows"], seconds)
            if "cursor" in result:  # a cursor source: the rows it read (those held were dropped)
                metrics["nodes"][config.source.node_id]["rows_out"] = result["cursor"]["rows_read"]
        self.node_metrics = metrics["nodes"]
        context["ti"].xcom_push(key=METRICS_XCOM_KEY, value=metrics)
        return result
