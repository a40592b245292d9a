"""Group nodes into tasks: one node per task, or maximal linear runs of fusable transforms.

A pure step over the validated graph, so it is tested without Airflow. A run A -> B -> C fuses when
each link is the only edge out of its source and the only edge into its target, and every node in it
is a fusable transform (single input, single output, a SQL step the engine can stack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.modules.registry import ModuleDef
    from airflow_provider_logidata.spec.models import Pipeline


def plan_groups(pipeline: Pipeline, modules: Mapping[str, ModuleDef], *, fuse: bool) -> list[list[str]]:
    """Node ids per task, in the pipeline's node order; the last id of a group names the task.

    Naming the task after the last node keeps every downstream reference (``inputs``) unchanged.
    """
    if not fuse:
        return [[node.id] for node in pipeline.nodes]
    outgoing: dict[str, list[str]] = {node.id: [] for node in pipeline.nodes}
    incoming: dict[str, list[str]] = {node.id: [] for node in pipeline.nodes}
    for edge in pipeline.edges:
        outgoing[edge.source].append(edge.target)
        incoming[edge.target].append(edge.source)

    def fusable(node_id: str) -> bool:
        return modules[node_id].fusable

    def joins_previous(node_id: str) -> bool:
        """True when ``node_id`` continues the run of its only upstream node."""
        ups = incoming[node_id]
        return fusable(node_id) and len(ups) == 1 and fusable(ups[0]) and len(outgoing[ups[0]]) == 1

    groups: list[list[str]] = []
    for node in pipeline.nodes:
        if joins_previous(node.id):
            continue  # collected when its run's head is reached
        group = [node.id]
        while len(outgoing[group[-1]]) == 1 and joins_previous(outgoing[group[-1]][0]):
            group.append(outgoing[group[-1]][0])
        groups.append(group)
    return groups
