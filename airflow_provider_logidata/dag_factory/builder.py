"""Pipeline spec -> DAG. A pure step: no I/O, no validation (the loader validates first)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata import settings
from airflow_provider_logidata.dag_factory.callbacks import on_run_failure, on_run_success
from airflow_provider_logidata.dag_factory.elt_plan import elt_doc, plan_elt
from airflow_provider_logidata.dag_factory.fusion import is_path, plan_groups
from airflow_provider_logidata.dag_factory.row_order import order_free_nodes
from airflow_provider_logidata.modules.registry import input_ref
from airflow_provider_logidata.spec.incremental import cursor_destinations, cursor_paths
from airflow_provider_logidata.spec.row_keys import example_keys

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import DAG
    from pydantic import BaseModel

    from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry
    from airflow_provider_logidata.spec.models import Edge, Pipeline


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def doc_md(pipeline: Pipeline, builder_url: str | None = None) -> str:
    link = (builder_url or settings.builder_url_template()).replace("{pipeline_id}", pipeline.id)
    parts = [f"### {pipeline.display_name}", ""]
    if pipeline.description:
        parts += [pipeline.description, ""]
    parts.append(f"LogiData pipeline `{pipeline.id}`: [open it in the pipeline builder]({link}).")
    return "\n".join(parts)


def airflow_dag_defaults() -> dict[str, Any]:
    """DAG arguments whose defaults Airflow reads from its config on every ``DAG()``.

    Read once per factory run and passed explicitly: the same values, minus thousands of config
    lookups when the loader builds many DAGs.
    """
    from airflow.sdk.configuration import conf

    return {
        "max_active_tasks": conf.getint("core", "max_active_tasks_per_dag"),
        "max_active_runs": conf.getint("core", "max_active_runs_per_dag"),
        "max_consecutive_failed_dag_runs": conf.getint("core", "max_consecutive_failed_dag_runs_per_dag"),
        "disable_bundle_versioning": conf.getboolean("dag_processor", "disable_bundle_versioning"),
    }


def build_dag(
    pipeline: Pipeline,
    *,
    fileloc: str | None = None,
    registry: ModuleRegistry | None = None,
    configs: Mapping[str, BaseModel] | None = None,
    builder_url: str | None = None,
    dag_defaults: Mapping[str, Any] | None = None,
) -> DAG:
    """Build one DAG: a task per node (task_id = node id), a dependency per edge.

    ``auto_register=False`` keeps a half-built DAG out of Airflow's DagContext if anything raises; the
    caller publishes it only on success. ``fileloc`` must be the loader file so that workers re-parse
    the file that actually defines the DAG. ``configs`` (validated node configs from the validator) and
    ``builder_url`` (the link template) and ``dag_defaults`` (``airflow_dag_defaults()``) spare the work
    of repeating them for each of many pipelines.
    """
    from airflow.sdk import DAG

    if registry is None:
        from airflow_provider_logidata.modules.registry import registry as default_registry

        registry = default_registry()

    default_args: dict[str, Any] = {
        "owner": pipeline.owner,
        "retries": pipeline.retries,
        "retry_delay": pipeline.retry_delay,
    }
    extra: dict[str, Any] = dict(airflow_dag_defaults() if dag_defaults is None else dag_defaults)
    if pipeline.schedule == "@continuous":
        extra["max_active_runs"] = 1
    dag = DAG(
        dag_id=pipeline.id,
        dag_display_name=pipeline.display_name,
        description=(pipeline.description.strip().splitlines() or [""])[0][:200] or None,
        schedule=pipeline.schedule,
        start_date=_utc(pipeline.start_date),
        catchup=pipeline.catchup,
        default_args=default_args,
        tags={"logidata", *pipeline.tags},
        doc_md=doc_md(pipeline, builder_url),
        params=dict(pipeline.params),
        on_success_callback=on_run_success,
        on_failure_callback=on_run_failure,
        auto_register=False,
        **extra,
    )
    if fileloc:
        dag.fileloc = fileloc

    modules = {node.id: registry[node.module] for node in pipeline.nodes}
    inputs: dict[str, list[str]] = {node.id: [] for node in pipeline.nodes}
    for edge in _ordered_edges(pipeline, modules):
        default_port = modules[edge.source].outputs[:1] == (edge.source_port,)
        inputs[edge.target].append(input_ref(edge.source, None if default_port else edge.source_port))

    nodes = {node.id: node for node in pipeline.nodes}
    tasks: dict[str, Any] = {}  # node id -> the task running it
    elt_paths = {path.destination: path for path in plan_elt(pipeline, modules, configs)}
    node_items = list(enumerate(pipeline.nodes))
    edge_items = list(enumerate(pipeline.edges))
    node_configs: Mapping[str, Any] = (
        configs if configs is not None else {n.id: n.config for n in pipeline.nodes}
    )
    # A cursor source is pushed down on a linear path into one table; the docs say why the others are not.
    pushed = {d for path in elt_paths.values() for d in path.destinations}
    etl_cursor_paths = (
        []
        if pipeline.engine == "etl"
        else [p for p in cursor_paths(node_items, edge_items, node_configs) if p[1] not in pushed]
    )
    if elt_paths or etl_cursor_paths:
        dag.doc_md = (dag.doc_md or "") + "\n\n" + elt_doc(elt_paths.values(), etl_cursor_paths)
    # Each cursor source reads from the smallest cursor of the destinations it feeds (engine.incremental).
    feeds = cursor_destinations(node_items, edge_items, node_configs)
    # Quality checks name failing rows by the pipeline's keys where it has them (spec.row_keys).
    row_keys = example_keys(node_items, edge_items, node_configs)

    def _config(node_id: str, config: Any) -> Any:
        keys = row_keys.get(node_id)
        if keys is None:
            return config
        if hasattr(config, "model_copy"):  # a validated config model
            return config.model_copy(update={"keys": keys})
        return {**config, "keys": keys}

    in_elt = {node_id for path in elt_paths.values() for node_id in path.nodes}
    # A fused chain may start inside a partial pushdown (its exit is a fusable transform): the rest of
    # the chain is still one task.
    groups = [
        rest
        for g in plan_groups(pipeline, modules, fuse=pipeline.fusion)
        if (rest := [node_id for node_id in g if node_id not in in_elt])
    ]
    groups += [list(path.nodes) for path in elt_paths.values()]
    fused_paths = [g for g in groups if is_path(g, modules) and g[-1] not in elt_paths]
    if fused_paths:
        title = "Fused paths (`fuse: paths`; one task each, named after its destination, nothing staged):"
        items = ["- " + " → ".join(f"`{n}`" for n in g) for g in fused_paths]
        dag.doc_md = (dag.doc_md or "") + "\n\n" + "\n".join([title, "", *items])
    order_free = order_free_nodes(pipeline, modules)
    for group in groups:
        last = nodes[group[-1]]
        task: Any
        common: dict[str, Any] = {"task_id": last.id, "inputs": inputs[group[0]], "dag": dag}
        if last.id in elt_paths:
            from airflow_provider_logidata.operators.elt import ELTOperator

            def _entry(node_id: str) -> dict[str, Any]:
                config = _config(node_id, nodes[node_id].config)
                return {"node_id": node_id, "module": nodes[node_id].module, "config": config}

            label = " → ".join(nodes[n].label or n for n in group)
            path = elt_paths[last.id]
            # A cursor source first: the ELT operators read its cursor as the task's source's.
            sources = sorted(path.sources, key=lambda n: n not in feeds)
            elt_config: dict[str, Any] = {
                "source": _entry(sources[0]),
                "steps": [_entry(n) for n in path.transforms],
            }
            if not path.linear:  # a graph: every source, and where each step reads from
                elt_config["sources"] = [_entry(n) for n in sources[1:]]
                wiring = dict(path.inputs)
                for step in elt_config["steps"]:
                    step["inputs"] = [{"node_id": n, "port": p} for n, p in wiring[step["node_id"]]]
                    if step["node_id"] in order_free:  # a join need not sort into the ETL order
                        step["keep_order"] = False
            if path.exit:
                from airflow_provider_logidata.operators.elt import ELTReadOperator

                if sources[0] in feeds:  # a cursor source reads from its destinations' smallest cursor
                    common["cursor_destinations"] = feeds[sources[0]]
                task = ELTReadOperator(task_display_name=f"{label} (ELT)", config=elt_config, **common)
            else:
                elt_config["destination"] = _entry(group[-1])
                if path.sinks:  # several destinations: each names the node it loads
                    reads = dict(path.sinks)
                    elt_config["destinations"] = [_entry(d) for d in path.destinations[:-1]]
                    for entry in (*elt_config["destinations"], elt_config["destination"]):
                        entry["inputs"] = [{"node_id": reads[entry["node_id"]]}]
                task = ELTOperator(task_display_name=f"{label} (ELT)", config=elt_config, **common)
        elif is_path(group, modules):
            from airflow_provider_logidata.operators.path import FusedPathOperator

            def _node(node_id: str) -> dict[str, Any]:
                config = _config(node_id, nodes[node_id].config)
                return {"node_id": node_id, "module": nodes[node_id].module, "config": config}

            label = " → ".join(nodes[n].label or n for n in group)
            path_config = {
                "source": _node(group[0]),
                "steps": [_node(n) for n in group[1:-1]],
                "destination": _node(group[-1]),
            }
            task = FusedPathOperator(task_display_name=label, config=path_config, **common)
        elif len(group) == 1:
            operator_cls = modules[last.id].operator_class()
            config: Any = configs[last.id] if configs is not None and last.id in configs else last.config
            config = _config(last.id, config)
            if last.id in order_free and modules[last.id].category == "source":
                common["keep_row_order"] = False
            if last.id in feeds:
                common["cursor_destinations"] = feeds[last.id]
            task = operator_cls(task_display_name=last.label or last.id, config=config, **common)
        else:
            from airflow_provider_logidata.operators.chain import FusedChainOperator

            steps = [
                {"node_id": n, "module": nodes[n].module, "config": _config(n, nodes[n].config)}
                for n in group
            ]
            label = " → ".join(nodes[n].label or n for n in group)
            task = FusedChainOperator(task_display_name=label, config={"steps": steps}, **common)
        for node_id in group:
            tasks[node_id] = task
    for edge in pipeline.edges:
        if tasks[edge.source] is not tasks[edge.target]:
            _link(tasks[edge.source], tasks[edge.target])
    return dag


def _ordered_edges(pipeline: Pipeline, modules: Mapping[str, ModuleDef]) -> list[Edge]:
    """Edges in the order their targets read them: by named input port, else as listed in the spec."""

    def rank(edge: Edge) -> int:
        ports = modules[edge.target].input_ports
        return ports.index(edge.target_port) if edge.target_port in ports else 0

    return sorted(pipeline.edges, key=rank)  # stable: unnamed inputs keep their spec order


def _link(upstream: Any, downstream: Any) -> None:
    """``upstream >> downstream`` for two tasks already in the same DAG and outside task groups.

    Airflow's ``>>`` re-checks that both tasks share one DAG by hashing the DAG, which walks every task
    id: quadratic in pipeline size and a fifth of the factory's parse time. The factory created both
    tasks in one DAG, so only the two relation sets need updating, exactly as ``>>`` ends up doing.
    """
    upstream.downstream_task_ids.add(downstream.task_id)
    downstream.upstream_task_ids.add(upstream.task_id)
