"""ELT pushdown planning: which sub-graphs ending in a destination.postgres run inside the database.

A pure step over the validated graph (no database, no Airflow), so it is unit-tested alone. Walking up
from each destination.postgres, a sub-graph is pushed down when every node in it is a source.postgres
reading without a cursor on the destination's ``conn_id``, or a transform with a PostgreSQL builder
(:func:`elt_modules`; joins included, so a graph with several sources is one statement), and every node
in it feeds only the sub-graph (its one edge out). A linear path is the simplest such sub-graph.
``engine: etl`` never pushes down; ``engine: elt`` requires every destination.postgres to be pushed down
and raises :class:`EltPlanError` naming the node that blocks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.modules.registry import ModuleDef
    from airflow_provider_logidata.spec.models import Pipeline

SOURCE = "source.postgres"
DESTINATION = "destination.postgres"


def elt_modules() -> list[str]:
    """Transforms that can run inside PostgreSQL: those whose module file declares a ``postgres`` builder
    (the registry holds the builders as plain functions, so asking costs no engine import)."""
    from airflow_provider_logidata.modules.registry import registry

    return sorted(d.name for d in registry() if d.category == "transform" and d.postgres is not None)


class EltPlanError(ValueError):
    """``engine: elt`` and a path that cannot run inside the database (``node_id``: the destination)."""

    def __init__(self, message: str, node_id: str | None = None, blocker: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.blocker = blocker  # the node that prevents pushdown, where the builder shows the error


@dataclass(frozen=True)
class EltPath:
    """The nodes of a pushed-down sub-graph, upstream first (sources first, the destination last); the
    task is named after the destination. ``inputs``: for a graph (a join's two sources), each transform's
    incoming ``(node id, target port)`` in edge order; empty for a linear path, where each step reads
    the one before."""

    nodes: tuple[str, ...]
    conn_id: str
    inputs: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = ()

    @property
    def source(self) -> str:
        return self.nodes[0]

    @property
    def destination(self) -> str:
        return self.nodes[-1]

    @property
    def transforms(self) -> tuple[str, ...]:
        return self.nodes[1:-1] if self.linear else tuple(node for node, _ in self.inputs)

    @property
    def sources(self) -> tuple[str, ...]:
        if self.linear:
            return (self.nodes[0],)
        fed = {node for node, _ in self.inputs}
        return tuple(node for node in self.nodes[:-1] if node not in fed)

    @property
    def linear(self) -> bool:
        return not self.inputs


def _config(node_config: Any) -> dict[str, Any]:
    if hasattr(node_config, "model_dump"):
        return dict(node_config.model_dump(mode="json", by_alias=True))
    return dict(node_config or {})


def plan_elt(
    pipeline: Pipeline,
    modules: Mapping[str, ModuleDef],
    configs: Mapping[str, Any] | None = None,
) -> list[EltPath]:
    """The sub-graphs to push down, in the pipeline's node order of their destinations.

    ``configs`` (validated node configs) are preferred over the raw node configs when given.
    """
    engine = getattr(pipeline, "engine", "auto")
    if engine == "etl":
        return []
    paths: list[EltPath] = []
    for destination, path, blocker, at in _destinations(pipeline, modules, configs):
        if path is not None:
            paths.append(path)
        elif engine == "elt":
            raise EltPlanError(
                f"engine 'elt': destination.postgres node {destination!r} cannot run inside PostgreSQL: "
                f"{blocker}. Change the pipeline, or set engine to 'auto' (push down what can be) or "
                "'etl' (never).",
                destination,
                at,
            )
    if engine == "elt" and not paths:
        raise EltPlanError(
            "engine 'elt' needs at least one source.postgres -> transforms -> destination.postgres path on "
            "one connection; set engine to 'auto' or 'etl'"
        )
    return paths


def _destinations(
    pipeline: Pipeline, modules: Mapping[str, ModuleDef], configs: Mapping[str, Any] | None
) -> list[tuple[str, EltPath | None, str, str | None]]:
    """Per destination.postgres, in node order: its pushed-down sub-graph, or ``None``, why and the
    node at fault (``_walk_back``)."""
    nodes = {node.id: node for node in pipeline.nodes}

    def config(node_id: str) -> dict[str, Any]:
        if configs is not None and node_id in configs:
            return _config(configs[node_id])
        return _config(nodes[node_id].config)

    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    incoming: dict[str, list[tuple[str, str | None]]] = {n: [] for n in nodes}
    for edge in pipeline.edges:
        outgoing[edge.source].append(edge.target)
        incoming[edge.target].append((edge.source, edge.target_port))
    return [
        (node.id, *_walk_back(node.id, nodes, modules, incoming, outgoing, config))
        for node in pipeline.nodes
        if node.module == DESTINATION
    ]


def where_nodes_run(
    pipeline: Pipeline, modules: Mapping[str, ModuleDef], configs: Mapping[str, Any] | None = None
) -> dict[str, tuple[str, str | None]]:
    """Per node: ``("postgres", None)`` when a run pushes it into PostgreSQL, else ``("engine", why)``,
    ``why`` set on the nodes a pushdown stopped at (a destination.postgres not pushed down and the node
    that prevents it), so the canvas can say where each node runs and what to change."""
    out: dict[str, tuple[str, str | None]] = {node.id: ("engine", None) for node in pipeline.nodes}
    if getattr(pipeline, "engine", "auto") == "etl":
        return out
    for destination, path, why, at in _destinations(pipeline, modules, configs):
        if path is not None:
            out.update(dict.fromkeys(path.nodes, ("postgres", None)))
            continue
        reason = f"not pushed into PostgreSQL: {why}"
        out[destination] = ("engine", reason)
        if at is not None and out[at][0] != "postgres":
            out[at] = ("engine", reason)
    return out


def _walk_back(
    destination: str,
    nodes: Mapping[str, Any],
    modules: Mapping[str, ModuleDef],
    incoming: Mapping[str, list[tuple[str, str | None]]],
    outgoing: Mapping[str, list[str]],
    config: Any,
) -> tuple[EltPath | None, str, str | None]:
    """The sub-graph ending at ``destination``, or ``None``, why (naming the blocking node) and that node."""
    destination_conn = config(destination).get("conn_id")
    ups = incoming[destination]
    if len(ups) != 1:
        return None, f"node {destination!r} has {len(ups)} inputs", destination
    members: list[str] = []
    sources: list[str] = []
    pending = [ups[0][0]]
    while pending:
        up = pending.pop()
        if up in members:
            continue
        if len(outgoing[up]) != 1:
            return None, f"node {up!r} feeds {len(outgoing[up])} nodes (a branch)", up
        module = nodes[up].module
        members.append(up)
        if module == SOURCE:
            sources.append(up)
            continue
        if modules[up].category != "transform":
            return None, f"node {up!r} ({module}) is not a source.postgres", up
        if modules[up].postgres is None:
            supported = ", ".join(elt_modules())
            return (
                None,
                f"node {up!r} uses {module}, which has no PostgreSQL builder (supported: {supported})",
                up,
            )
        pending.extend(source for source, _port in incoming[up])
    graph = len(sources) > 1 or any(modules[m].multi for m in members if nodes[m].module != SOURCE)
    for source in sources:
        source_config = config(source)
        incremental = source_config.get("incremental") or {}
        if incremental.get("mode") == "cursor":
            return (
                None,
                f"source node {source!r} reads incrementally by cursor, which runs in the ETL engine (each "
                "destination drops the rows it already holds and commits its own cursor with its rows)",
                source,
            )
        if graph and incremental:
            return (
                None,
                f"source node {source!r} reads incrementally, which is pushed down on a linear path only "
                "(not yet beside another source)",
                source,
            )
        conn_id = source_config.get("conn_id")
        if not conn_id or conn_id != destination_conn:
            return (
                None,
                f"source node {source!r} (conn_id {conn_id!r}) and destination node {destination!r} "
                f"(conn_id {destination_conn!r}) use different connections",
                destination,
            )
    order = _upstream_first(members, incoming)
    if not graph:
        return EltPath(nodes=(*order, destination), conn_id=str(destination_conn)), "", None
    inputs = tuple((member, tuple(incoming[member])) for member in order if nodes[member].module != SOURCE)
    return EltPath(nodes=(*order, destination), conn_id=str(destination_conn), inputs=inputs), "", None


def _upstream_first(members: list[str], incoming: Mapping[str, list[tuple[str, str | None]]]) -> list[str]:
    """``members`` ordered so each comes after its inputs (sources first, in the order found)."""
    inside = set(members)
    done: list[str] = []
    placed: set[str] = set()

    def place(node: str) -> None:
        if node in placed:
            return
        placed.add(node)
        for source, _port in incoming[node]:
            if source in inside:
                place(source)
        done.append(node)

    for member in reversed(members):
        place(member)
    return done


def elt_doc(paths: Any, cursor_paths: Any = ()) -> str:
    """Markdown for the DAG's docs: which engine runs what.

    ``cursor_paths``: (cursor source, destination.postgres) pairs, which ``engine: auto`` runs as ETL
    although they may look like a pushdown: the docs say why.
    """
    lines = ["#### Engine", ""]
    for path in paths:
        what = (
            f"`{' → '.join(path.nodes)}`"
            if path.linear
            else f"the graph of `{', '.join(path.nodes)}` (sources `{', '.join(path.sources)}`, joined)"
        )
        lines.append(
            f"- ELT: {what} runs as one SQL statement inside PostgreSQL (connection `{path.conn_id}`) in "
            f"task `{path.destination}`; the task log shows the SQL."
        )
    for source, destination in cursor_paths:
        lines.append(
            f"- ETL: `{source}` → `{destination}` reads by cursor, so it runs in the ETL engine, not inside "
            "PostgreSQL: each destination drops the rows it already holds and commits its own cursor in the "
            "same transaction as its rows."
        )
    lines.append("- ETL (DuckDB over staged Parquet): every other node.")
    return "\n".join(lines)
