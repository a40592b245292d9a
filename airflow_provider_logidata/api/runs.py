"""Per-node run state: which task ran each node, and its rows and seconds.

A node is not always a task: a fused chain runs several transforms in one task named after its last
node, a fused path (``fuse: paths``) a file source, its transforms and its destination in one task named
after the destination, and an ELT path runs source → transforms → destination as one task inside
PostgreSQL. The mapping comes from the DAG factory's own pure planning (``fusion.plan_groups``,
``elt_plan.plan_elt``), so it cannot drift from what the factory builds. Rows and seconds come from the
``logidata_metrics`` XCom pushed by every LogiData operator; runs from before that existed fall back to
the ``rows`` of the staging handle each task returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_logidata.api.models import NodeRun

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

METRICS_KEY = "logidata_metrics"
RETURN_KEY = "return_value"
OUTPUT_PREFIX = "output__"

Engine = Literal["etl", "elt"]


@dataclass(frozen=True)
class NodeTask:
    task_id: str
    engine: Engine | None
    group_size: int = 1


@dataclass
class TaskResult:
    """What one task instance of a run left behind."""

    state: str | None = None
    seconds: float | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)


def _node_ids(data: Any) -> list[str]:
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, list):
        return []
    return [n["id"] for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]


def _edges(data: Any) -> list[tuple[str, str, str]]:
    edges = data.get("edges") if isinstance(data, dict) else None
    out: list[tuple[str, str, str]] = []
    for edge in edges if isinstance(edges, list) else []:
        if (
            isinstance(edge, dict)
            and isinstance(edge.get("source"), str)
            and isinstance(edge.get("target"), str)
        ):
            port = edge.get("source_port")
            out.append((edge["source"], edge["target"], port if isinstance(port, str) else "out"))
    return out


def plan_node_tasks(data: Any) -> dict[str, NodeTask]:
    """Node id → the task that runs it, as the factory would build the pipeline now.

    A pipeline that does not validate (edited since, or a module removed) maps each node to a task of its
    own name, which is right for every node that is not part of a fused chain or ELT path.
    """
    from airflow_provider_logidata.dag_factory.elt_plan import EltPlanError, plan_elt
    from airflow_provider_logidata.dag_factory.fusion import plan_groups
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.spec import validate_pipeline

    result = validate_pipeline(data)
    pipeline = result.pipeline
    if pipeline is None:
        return {node_id: NodeTask(node_id, None) for node_id in _node_ids(data)}
    reg = registry()
    modules = {node.id: reg[node.module] for node in pipeline.nodes}
    try:
        elt_paths = plan_elt(pipeline, modules, result.configs)
    except EltPlanError:
        elt_paths = []
    in_elt = {node_id for path in elt_paths for node_id in path.nodes}
    mapping: dict[str, NodeTask] = {}
    for whole in plan_groups(pipeline, modules, fuse=pipeline.fusion):
        group = [node_id for node_id in whole if node_id not in in_elt]  # as the factory splits it
        for node_id in group:
            mapping[node_id] = NodeTask(group[-1], "etl", len(group))
    for path in elt_paths:
        for node_id in path.nodes:
            mapping[node_id] = NodeTask(path.destination, "elt", len(path.nodes))
    return mapping


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _handle_rows(task: TaskResult | None, port: str) -> int | None:
    """Rows of the staging handle a task published for ``port`` (its return value for the first port)."""
    if task is None:
        return None
    for key in (f"{OUTPUT_PREFIX}{port}", RETURN_KEY):
        value = task.xcoms.get(key)
        rows = _int(value.get("rows")) if isinstance(value, dict) else None
        if rows is not None:
            return rows
    return None


def node_runs(
    data: Any, mapping: Mapping[str, NodeTask], tasks: Mapping[str, TaskResult]
) -> dict[str, NodeRun]:
    """Per-node state, rows and seconds of one DAG run."""
    edges = _edges(data)
    out: dict[str, NodeRun] = {}
    resolved: dict[str, str] = {}
    for node_id in _node_ids(data):
        planned = mapping.get(node_id, NodeTask(node_id, None))
        task_id = planned.task_id
        if task_id not in tasks and node_id in tasks:
            task_id = node_id  # the pipeline was regrouped since this run
        resolved[node_id] = task_id
        task = tasks.get(task_id)
        metrics_all = task.xcoms.get(METRICS_KEY) if task else None
        nodes_metrics = metrics_all.get("nodes") if isinstance(metrics_all, dict) else None
        metrics = nodes_metrics.get(node_id) if isinstance(nodes_metrics, dict) else None
        single = planned.group_size == 1 or task_id != planned.task_id
        if isinstance(metrics, dict):
            rows_in, rows_out = _int(metrics.get("rows_in")), _int(metrics.get("rows_out"))
            seconds = _float(metrics.get("seconds"))
        else:
            rows_in = None
            rows_out = _handle_rows(task, "out") if task_id == node_id else None
            seconds = task.seconds if task is not None and single else None
        out[node_id] = NodeRun(
            task_id=task_id,
            state=task.state if task else None,
            rows_in=rows_in,
            rows_out=rows_out,
            seconds=seconds,
            engine=planned.engine,
        )
    # Rows in, when the metrics did not say: what the upstream tasks handed over along the edges.
    incoming: dict[str, list[tuple[str, str]]] = {}
    for source, target, port in edges:
        incoming.setdefault(target, []).append((source, port))
    for node_id, run in out.items():
        if run.rows_in is not None or node_id not in incoming:
            continue
        counts: list[int | None] = []
        for source, port in incoming[node_id]:
            if resolved.get(source) == resolved.get(node_id):
                counts = []  # inside a fused chain: nothing was handed over between tasks
                break
            counts.append(_handle_rows(tasks.get(resolved.get(source, source)), port))
        if counts and all(c is not None for c in counts):
            run.rows_in = sum(c for c in counts if c is not None)
    return out


def state_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def collect_tasks(
    ti_rows: Iterable[Any], xcom_rows: Iterable[tuple[str, str, str, Any]]
) -> dict[str, dict[str, TaskResult]]:
    """run_id → task_id → TaskResult from task-instance rows and decoded XCom rows."""
    runs: dict[str, dict[str, TaskResult]] = {}
    for row in ti_rows:
        seconds = row.duration
        if seconds is None and row.start_date is not None and row.end_date is not None:
            seconds = (row.end_date - row.start_date).total_seconds()
        runs.setdefault(row.run_id, {})[row.task_id] = TaskResult(
            state=state_text(row.state), seconds=_float(seconds)
        )
    for run_id, task_id, key, value in xcom_rows:
        runs.setdefault(run_id, {}).setdefault(task_id, TaskResult()).xcoms[key] = value
    return runs
