"""ELT pushdown planning: which postgres -> transforms -> postgres paths run inside the database.

A pure step over the validated graph (no database, no Airflow), so it is unit-tested alone. A path is
pushed down when every transform on it has a PostgreSQL builder (:func:`elt_modules`), every link is the
only edge out of its source node and the only edge into its target node, the source reads without a
cursor, and source and destination use the same ``conn_id``. ``engine: etl`` never pushes down;
``engine: elt`` requires every destination.postgres to be pushed down and raises :class:`EltPlanError`
naming the node that blocks it.
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
    """Node ids from the source to the destination, both included; the task is named after the last."""

    nodes: tuple[str, ...]
    conn_id: str

    @property
    def source(self) -> str:
        return self.nodes[0]

    @property
    def destination(self) -> str:
        return self.nodes[-1]

    @property
    def transforms(self) -> tuple[str, ...]:
        return self.nodes[1:-1]


def _config(node_config: Any) -> dict[str, Any]:
    if hasattr(node_config, "model_dump"):
        return dict(node_config.model_dump(mode="json", by_alias=True))
    return dict(node_config or {})


def plan_elt(
    pipeline: Pipeline,
    modules: Mapping[str, ModuleDef],
    configs: Mapping[str, Any] | None = None,
) -> list[EltPath]:
    """The paths to push down, in the pipeline's node order of their destinations.

    ``configs`` (validated node configs) are preferred over the raw node configs when given.
    """
    engine = getattr(pipeline, "engine", "auto")
    if engine == "etl":
        return []
    nodes = {node.id: node for node in pipeline.nodes}

    def config(node_id: str) -> dict[str, Any]:
        if configs is not None and node_id in configs:
            return _config(configs[node_id])
        return _config(nodes[node_id].config)

    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    incoming: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in pipeline.edges:
        outgoing[edge.source].append(edge.target)
        incoming[edge.target].append(edge.source)

    paths: list[EltPath] = []
    for node in pipeline.nodes:
        if node.module != DESTINATION:
            continue
        path, blocker, at = _walk_back(node.id, nodes, modules, incoming, outgoing, config)
        if path is not None:
            paths.append(path)
        elif engine == "elt":
            raise EltPlanError(
                f"engine 'elt': destination.postgres node {node.id!r} cannot run inside PostgreSQL: "
                f"{blocker}. Change the pipeline, or set engine to 'auto' (push down what can be) or "
                "'etl' (never).",
                node.id,
                at,
            )
    if engine == "elt" and not paths:
        raise EltPlanError(
            "engine 'elt' needs at least one source.postgres -> transforms -> destination.postgres path on "
            "one connection; set engine to 'auto' or 'etl'"
        )
    return paths


def _walk_back(
    destination: str,
    nodes: Mapping[str, Any],
    modules: Mapping[str, ModuleDef],
    incoming: Mapping[str, list[str]],
    outgoing: Mapping[str, list[str]],
    config: Any,
) -> tuple[EltPath | None, str, str | None]:
    """The path ending at ``destination``, or ``None``, why (naming the blocking node) and that node."""
    chain = [destination]
    current = destination
    while True:
        ups = incoming[current]
        if len(ups) != 1:
            return None, f"node {current!r} has {len(ups)} inputs", current
        up = ups[0]
        if len(outgoing[up]) != 1:
            return None, f"node {up!r} feeds {len(outgoing[up])} nodes (a branch)", up
        module = nodes[up].module
        if module == SOURCE:
            chain.append(up)
            break
        if modules[up].category != "transform":
            return None, f"node {up!r} ({module}) is not a source.postgres", up
        if modules[up].postgres is None:
            supported = ", ".join(elt_modules())
            return (
                None,
                f"node {up!r} uses {module}, which has no PostgreSQL builder (supported: {supported})",
                up,
            )
        chain.append(up)
        current = up
    chain.reverse()
    source_config, destination_config = config(chain[0]), config(destination)
    incremental = source_config.get("incremental") or {}
    if incremental.get("mode") == "cursor":
        return (
            None,
            f"source node {chain[0]!r} reads incrementally by cursor, which runs in the ETL engine (each "
            "destination drops the rows it already holds and commits its own cursor with its rows)",
            chain[0],
        )
    conn_id = source_config.get("conn_id")
    if not conn_id or conn_id != destination_config.get("conn_id"):
        return (
            None,
            f"source node {chain[0]!r} (conn_id {conn_id!r}) and destination node {destination!r} "
            f"(conn_id {destination_config.get('conn_id')!r}) use different connections",
            destination,
        )
    return EltPath(nodes=tuple(chain), conn_id=str(conn_id)), "", None


def elt_doc(paths: Any, cursor_paths: Any = ()) -> str:
    """Markdown for the DAG's docs: which engine runs what.

    ``cursor_paths``: (cursor source, destination.postgres) pairs, which ``engine: auto`` runs as ETL
    although they may look like a pushdown: the docs say why.
    """
    lines = ["#### Engine", ""]
    for path in paths:
        lines.append(
            f"- ELT: `{' → '.join(path.nodes)}` runs as SQL inside PostgreSQL (connection "
            f"`{path.conn_id}`) in task `{path.destination}`; the task log shows the SQL."
        )
    for source, destination in cursor_paths:
        lines.append(
            f"- ETL: `{source}` → `{destination}` reads by cursor, so it runs in the ETL engine, not inside "
            "PostgreSQL: each destination drops the rows it already holds and commits its own cursor in the "
            "same transaction as its rows."
        )
    lines.append("- ETL (DuckDB over staged Parquet): every other node.")
    return "\n".join(lines)
