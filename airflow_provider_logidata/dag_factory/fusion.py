"""Group nodes into tasks: one node per task, or maximal linear runs of fusable transforms.

A pure step over the validated graph, so it is tested without Airflow. A run A -> B -> C fuses when
each link is the only edge out of its source and the only edge into its target, and every node in it
is a fusable transform (single input, single output, a SQL step the engine can stack).

With ``fuse: paths`` a maximal linear path ``source.file -> fusable transforms -> destination`` (the
destinations in :data:`PATH_DESTINATIONS`, transforms optional) is one group too: every link the only
edge out of its source and into its target. The task reads the files, runs the transforms and streams
the result into the load (``operators.path``), with nothing staged between the nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.modules.registry import ModuleDef
    from airflow_provider_logidata.spec.models import Pipeline


Fuse = Literal["none", "chains", "paths"]

# The ends of a fused path: sources read by DuckDB in the task, destinations that load a stream.
PATH_SOURCES = frozenset({"source.file"})
PATH_DESTINATIONS = frozenset({"destination.postgres", "destination.file"})


def fuse_mode(fuse: bool | str) -> Fuse:
    """``fuse`` as one of ``none``, ``chains``, ``paths`` (a bool is the older ``fuse_chains``)."""
    if fuse is True:
        return "chains"
    if fuse is False:
        return "none"
    if fuse not in ("none", "chains", "paths"):
        raise ValueError(f"fuse must be none, chains or paths, not {fuse!r}")
    return fuse  # type: ignore[return-value]


def is_path(group: list[str], modules: Mapping[str, ModuleDef]) -> bool:
    """Whether a group of :func:`plan_groups` is a fused path (a source through to a destination)."""
    return len(group) >= 2 and modules[group[0]].category == "source"


def plan_groups(pipeline: Pipeline, modules: Mapping[str, ModuleDef], *, fuse: bool | str) -> list[list[str]]:
    """Node ids per task, in the pipeline's node order; the last id of a group names the task.

    ``fuse``: ``none`` (or False), ``chains`` (or True), ``paths`` (see the module docs). Naming the task
    after the last node keeps every downstream reference (``inputs``) unchanged.
    """
    mode = fuse_mode(fuse)
    if mode == "none":
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
    if mode == "paths":
        groups = _fuse_paths(groups, modules, incoming, outgoing)
    return groups


def _fuse_paths(
    groups: list[list[str]],
    modules: Mapping[str, ModuleDef],
    incoming: Mapping[str, list[str]],
    outgoing: Mapping[str, list[str]],
) -> list[list[str]]:
    """Merge ``source -> [chain] -> destination`` into one group wherever every link is the only edge
    out of its source and into its target; the merged group takes the destination's place."""

    def only_link(upstream: str, downstream: str) -> bool:
        return outgoing[upstream] == [downstream] and incoming[downstream] == [upstream]

    by_head = {group[0]: group for group in groups}
    merged: dict[str, list[str]] = {}  # destination id -> the path ending there
    absorbed: set[str] = set()
    for group in groups:
        source = group[0]
        if len(group) != 1 or modules[source].name not in PATH_SOURCES or len(outgoing[source]) != 1:
            continue
        nxt = outgoing[source][0]
        middle: list[str] = []
        if modules[nxt].fusable:
            chain = by_head.get(nxt)
            if chain is None or not only_link(source, nxt):
                continue
            middle = chain
            if len(outgoing[chain[-1]]) != 1:
                continue
            destination = outgoing[chain[-1]][0]
            if not only_link(chain[-1], destination):
                continue
        else:
            destination = nxt
            if not only_link(source, destination):
                continue
        if modules[destination].name not in PATH_DESTINATIONS:
            continue
        merged[destination] = [source, *middle, destination]
        absorbed.update([source, *middle])
    out: list[list[str]] = []
    for group in groups:
        if group[0] in absorbed:
            continue
        out.append(merged.get(group[-1], group) if len(group) == 1 else group)
    return out
