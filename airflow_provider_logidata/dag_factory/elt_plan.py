"""ELT pushdown planning: which sub-graphs run inside the database.

A pure step over the validated graph (no database, no Airflow), so it is unit-tested alone. Walking up
from each destination.postgres, a sub-graph is pushed down when every node in it is a source.postgres
on the destination's ``conn_id`` (one reading by data interval only as the one source of a linear path;
one reading by cursor into one destination.postgres, alone or joined with sources read in full:
``engine.elt_cursor`` commits the destination's cursor with its rows), or a transform with a PostgreSQL
builder (:func:`elt_modules`; joins included, so a graph with several sources is one statement), and
every node in it feeds only the sub-graph (its one edge out). A linear path is the simplest such
sub-graph.

Partial pushdown: where the rows end up elsewhere (a file, S3, another database) or meet a node that
cannot run in PostgreSQL (a ``python`` node, a branch), the largest pushable sub-graph ending at a
transform (its *exit*) still runs in the database, and only the exit's result leaves it, staged for the
nodes after it (:attr:`EltPath.exit`). An exit may have several outputs (a route's ``matched`` and
``unmatched``, a quality_check's ``out`` and ``rejected``) that go on in the engine: each port's rows are
staged on their own, as the ETL engine stages them (``engine.elt_read.read_elt_ports``), and a
destination.postgres after one of them loads the staged port like any staged input. Inside a sub-graph,
a node with several outputs is pushed down only when every output feeds a table on the same connection
(nothing leaves the database). A cursor source may be in it (alone or joined with sources read
in full): as after a ``source.postgres`` task, the staged result says what it read and each destination
after it keeps its own cursor.

``engine: etl`` never pushes down; ``engine: elt`` requires every destination.postgres to be pushed down
and raises :class:`EltPlanError` naming the node that blocks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.registry import input_ref

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.modules.registry import ModuleDef
    from airflow_provider_logidata.spec.models import Pipeline

SOURCE = "source.postgres"
DESTINATION = "destination.postgres"
DIALECT = "postgres"  # what the sub-graphs on a source.postgres connection compile to


def elt_modules() -> list[str]:
    """Transforms that can run inside PostgreSQL: those whose module file declares a ``postgres`` builder
    (the registry holds the builders as plain functions, so asking costs no engine import)."""
    from airflow_provider_logidata.modules.registry import registry

    return sorted(d.name for d in registry() if d.category == "transform" and d.elt is not None)


class EltPlanError(ValueError):
    """``engine: elt`` and a path that cannot run inside the database (``node_id``: the destination)."""

    def __init__(self, message: str, node_id: str | None = None, blocker: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.blocker = blocker  # the node that prevents pushdown, where the builder shows the error


@dataclass(frozen=True)
class EltPath:
    """The nodes of a pushed-down sub-graph, upstream first (sources first, the destination last); the
    task is named after the last node. ``inputs``: for a graph (a join's two sources), each transform's
    incoming ``(node id, target port)`` in edge order; empty for a linear path, where each step reads
    the one before. ``exit``: the last node is a transform whose result leaves the database (partial
    pushdown), staged for the nodes after it; else it is a destination.postgres."""

    nodes: tuple[str, ...]
    conn_id: str
    inputs: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = ()
    exit: bool = False
    # Several destination.postgres fed by one sub-graph (a branch): ``(destination, the node it reads)``
    # each, in node order, the last naming the task; empty when one destination ends ``nodes``.
    sinks: tuple[tuple[str, str], ...] = ()
    # An exit with several outputs (a route, a quality_check): its ports, each staged on its own; empty
    # for an exit with one output and for a sub-graph loading tables.
    ports: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return self.nodes[0]

    @property
    def destination(self) -> str:
        """The last node, which names the task: a destination.postgres, or the exit."""
        return self.nodes[-1]

    @property
    def transforms(self) -> tuple[str, ...]:
        if not self.linear:
            return tuple(node for node, _ in self.inputs)
        return self.nodes[1:] if self.exit else self.nodes[1:-1]

    @property
    def sources(self) -> tuple[str, ...]:
        if self.linear:
            return (self.nodes[0],)
        fed = {node for node, _ in self.inputs} | {sink for sink, _ in self.sinks}
        members = self.nodes if self.exit or self.sinks else self.nodes[:-1]
        return tuple(node for node in members if node not in fed)

    @property
    def destinations(self) -> tuple[str, ...]:
        """The destination.postgres nodes it loads (none for an exit)."""
        if self.exit:
            return ()
        return tuple(sink for sink, _ in self.sinks) if self.sinks else (self.nodes[-1],)

    @property
    def linear(self) -> bool:
        # A source feeding several tables directly has no inputs to wire, yet is a graph (its sinks).
        return not self.inputs and not self.sinks


def _config(node_config: Any) -> dict[str, Any]:
    if hasattr(node_config, "model_dump"):
        return dict(node_config.model_dump(mode="json", by_alias=True))
    return dict(node_config or {})


def plan_elt(
    pipeline: Pipeline,
    modules: Mapping[str, ModuleDef],
    configs: Mapping[str, Any] | None = None,
) -> list[EltPath]:
    """The sub-graphs to push down: those ending in a destination.postgres, in the pipeline's node order
    of their destinations, then the exits (partial pushdown), in node order.

    ``configs`` (validated node configs) are preferred over the raw node configs when given.
    """
    engine = getattr(pipeline, "engine", "auto")
    if engine == "etl":
        return []
    graph = _Graph(pipeline, modules, configs)
    paths: list[EltPath] = []
    for destination, path, blocker, at in graph.destinations():
        if path is not None:
            if path not in paths:  # a sub-graph loading several destinations is listed once
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
    return paths + graph.exits(paths)


def where_nodes_run(
    pipeline: Pipeline, modules: Mapping[str, ModuleDef], configs: Mapping[str, Any] | None = None
) -> dict[str, tuple[str, str | None]]:
    """Per node: ``("postgres", None)`` when a run pushes it into PostgreSQL, else ``("engine", why)``,
    ``why`` set on the nodes a pushdown stopped at (a destination.postgres not pushed down and the node
    that prevents it), so the canvas can say where each node runs and what to change."""
    out: dict[str, tuple[str, str | None]] = {node.id: ("engine", None) for node in pipeline.nodes}
    if getattr(pipeline, "engine", "auto") == "etl":
        return out
    graph = _Graph(pipeline, modules, configs)
    found = graph.destinations()
    pushed = list({path: None for _destination, path, _why, _at in found if path is not None})
    for path in pushed + graph.exits(pushed):
        out.update(dict.fromkeys(path.nodes, ("postgres", None)))
    for destination, pushed_path, why, at in found:
        if pushed_path is not None:
            continue
        reason = f"not pushed into PostgreSQL: {why}"
        out[destination] = ("engine", reason)
        if at is not None and out[at][0] != "postgres":
            out[at] = ("engine", reason)
    return out


class _Graph:
    """The pipeline's wiring and the walks over it that find pushable sub-graphs."""

    def __init__(
        self, pipeline: Pipeline, modules: Mapping[str, ModuleDef], configs: Mapping[str, Any] | None
    ) -> None:
        self.pipeline = pipeline
        self.modules = modules
        self.configs = configs
        self.nodes = {node.id: node for node in pipeline.nodes}
        # Per destination.postgres whose closed sub-graph is refused for its incremental sources: why,
        # and the source at fault (:meth:`_unit`).
        self.refusals: dict[str, tuple[str, str]] = {}
        self.outgoing: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.incoming: dict[str, list[tuple[str, str | None]]] = {n: [] for n in self.nodes}
        # What each node reads, as the engine names it: the upstream node, plus ``:port`` for a
        # non-default output (a route's unmatched rows), with the target port.
        self.refs: dict[str, list[tuple[str, str | None]]] = {n: [] for n in self.nodes}
        for edge in pipeline.edges:
            self.outgoing[edge.source].append(edge.target)
            self.incoming[edge.target].append((edge.source, edge.target_port))
            default = modules[edge.source].outputs[:1] == (edge.source_port,)
            ref = input_ref(edge.source, None if default else edge.source_port)
            self.refs[edge.target].append((ref, edge.target_port))

    def config(self, node_id: str) -> dict[str, Any]:
        if self.configs is not None and node_id in self.configs:
            return _config(self.configs[node_id])
        return _config(self.nodes[node_id].config)

    def destinations(self) -> list[tuple[str, EltPath | None, str, str | None]]:
        """Per destination.postgres, in node order: its pushed-down sub-graph, or ``None``, why and the
        node at fault."""
        units = self._units()
        found: list[tuple[str, EltPath | None, str, str | None]] = []
        for node in self.pipeline.nodes:
            if node.module != DESTINATION:
                continue
            if node.id in units:
                found.append((node.id, units[node.id], "", None))
            elif node.id in self.refusals:  # all of it could run there, but for its incremental source
                found.append((node.id, None, *self.refusals[node.id]))
            else:
                found.append((node.id, *self._walk_back(node.id)))
        return found

    def _units(self) -> dict[str, EltPath]:
        """Per destination.postgres pushed down: its sub-graph. Per connection, the candidates are that
        connection's sources (an incremental one ends up on a linear path only) and destinations, and
        every transform PostgreSQL can run; a candidate stays while all its inputs do and (but for a
        destination) all it feeds does, so what is left is closed: nothing in it is needed by, or needs,
        a node that runs elsewhere. Each
        connected part with a destination is one sub-graph, one task: a node feeding several
        destinations (a branch) is computed once, inside the database."""
        units: dict[str, EltPath] = {}
        by_conn: dict[str, list[str]] = {}
        for node in self.pipeline.nodes:
            if node.module == DESTINATION and self.config(node.id).get("conn_id"):
                by_conn.setdefault(str(self.config(node.id)["conn_id"]), []).append(node.id)
        for conn_id, destinations in by_conn.items():
            kept = self._closed(conn_id, destinations)
            for part in self._parts(kept):
                path = self._unit(part, conn_id)
                if path is not None:
                    units.update(dict.fromkeys(path.destinations, path))
        return units

    def _closed(self, conn_id: str, destinations: list[str]) -> set[str]:
        kept = set(destinations)
        for node in self.pipeline.nodes:
            if node.module == SOURCE:
                if self.config(node.id).get("conn_id") == conn_id:
                    kept.add(node.id)
            elif self._pushable_transform(node.id):
                kept.add(node.id)
        changed = True
        while changed:
            changed = False
            for node_id in list(kept):
                ups = [up for up, _port in self.incoming[node_id]]
                downs = self.outgoing[node_id]
                is_destination = self.nodes[node_id].module == DESTINATION
                closed = all(up in kept for up in ups) and (
                    len(ups) == 1 if is_destination else bool(downs) and all(d in kept for d in downs)
                )
                if not closed:
                    kept.discard(node_id)
                    changed = True
        return kept

    def _parts(self, kept: set[str]) -> list[list[str]]:
        """The connected parts of ``kept`` (edges either way), each in the pipeline's node order."""
        seen: set[str] = set()
        parts: list[list[str]] = []
        for node in self.pipeline.nodes:
            if node.id not in kept or node.id in seen:
                continue
            part: set[str] = set()
            pending = [node.id]
            while pending:
                current = pending.pop()
                if current in part:
                    continue
                part.add(current)
                near = [up for up, _port in self.incoming[current]] + self.outgoing[current]
                pending.extend(n for n in near if n in kept and n not in part)
            seen |= part
            parts.append([n.id for n in self.pipeline.nodes if n.id in part])
        return parts

    def _unit(self, part: list[str], conn_id: str) -> EltPath | None:
        destinations = [n for n in part if self.nodes[n].module == DESTINATION]
        if not destinations:
            return None
        members = [n for n in part if n not in destinations]
        sources = [n for n in members if self.nodes[n].module == SOURCE]
        multi = any(self.modules[m].multi for m in members if m not in sources)
        linear = len(sources) == 1 and len(destinations) == 1 and not multi
        refusal = None if linear else self._incremental_refusal(sources)
        if refusal is not None:
            self.refusals.update(dict.fromkeys(destinations, refusal))
            return None
        if len(destinations) == 1:
            return self._path(members, sources, conn_id, destinations[0])
        order = _upstream_first(members, self.incoming)
        inputs = tuple((m, tuple(self.refs[m])) for m in order if self.nodes[m].module != SOURCE)
        sinks = tuple((d, self.refs[d][0][0]) for d in destinations)
        return EltPath(nodes=(*order, *destinations), conn_id=conn_id, inputs=inputs, sinks=sinks)

    def _incremental_refusal(self, sources: list[str]) -> tuple[str, str] | None:
        """Why a graph (several sources, or a join/union) with these sources cannot run in PostgreSQL
        (into its tables, or as a partial pushdown), and the source at fault; ``None`` when it can.

        A cursor source is pushed down beside sources read in full: its cursor is kept per destination,
        as in ETL. Into destination.postgres tables (one, or several fed by a branch: it reads from the
        smallest of their cursors, each drops what it holds and commits its own cursor with its rows,
        all in the task's one transaction, ``engine.elt.run_elt``), or as a partial pushdown (the staged
        result carries what it read; each destination after it keeps its own). Not beside a second cursor
        or a data interval source (a destination keeps one source's cursor, and the interval's rows would
        go through its filter). A data interval is replaced per destination on a linear path only."""
        reads = {s: self.config(s).get("incremental") or {} for s in sources}
        cursors = [s for s, spec in reads.items() if spec.get("mode") == "cursor"]
        intervals = [s for s, spec in reads.items() if spec and s not in cursors]
        if intervals:
            return (
                f"source node {intervals[0]!r} reads incrementally, which is pushed down on a linear path "
                "only (not yet beside another source)",
                intervals[0],
            )
        if len(cursors) > 1:
            return (
                f"source nodes {', '.join(map(repr, cursors))} read by cursor: a destination keeps the "
                "cursor of one source only",
                cursors[1],
            )
        return None

    def _pushable_transform(self, node_id: str) -> bool:
        """A transform PostgreSQL can run; one with several outputs (a route) only inside a sub-graph
        that loads every output it feeds, or as an exit (each port staged on its own)."""
        module = self.modules[node_id]
        return (
            module.category == "transform"
            and module.elt is not None
            and _refusal(module, self.configs, node_id, self.config(node_id)) is None
        )

    def exits(self, taken: list[EltPath]) -> list[EltPath]:
        """Partial pushdown: each transform ending a pushable sub-graph whose result goes on in the engine
        (to a file, another database, a node without a PostgreSQL builder, several consumers). Only the
        largest such sub-graphs: a transform whose one consumer could join the sub-graph is not an exit.
        Sub-graphs found this way never overlap (every member but the exit has its one edge inside)."""
        inside = {node for path in taken for node in path.nodes}
        found: list[EltPath] = []
        for node in self.pipeline.nodes:
            if node.id in inside:
                continue
            path = self._exit(node.id)
            if path is None:
                continue
            after = self.outgoing[node.id]
            if len(after) == 1 and after[0] not in inside and self._exit(after[0]) is not None:
                continue  # not the largest: the sub-graph goes on
            found.append(path)
            inside.update(path.nodes)
        return found

    def _exit(self, top: str) -> EltPath | None:
        """The pushable sub-graph ending at the transform ``top`` (which may feed anything from any of its
        outputs: each is staged), or ``None``."""
        module = self.modules[top]
        if module.category != "transform" or module.elt is None:
            return None
        collected = self._collect(top, top)
        if isinstance(collected[0], str):
            return None
        members, sources = collected
        graph = len(sources) > 1 or any(self.modules[m].multi for m in members if m not in sources)
        if graph and self._incremental_refusal(sources) is not None:
            return None  # an interval beside another source, or two cursors: ETL
        conn_ids = {self.config(source).get("conn_id") or "" for source in sources}
        if len(conn_ids) != 1 or "" in conn_ids:
            return None
        return self._path(members, sources, conn_ids.pop(), None)

    def _collect(self, top: str, exit_node: str | None) -> tuple[list[str], list[str]] | tuple[str, str]:
        """``top`` and every node above it, if all can run in PostgreSQL and feed only the sub-graph
        (``exit_node`` may feed more, from any of its outputs): ``(members, sources)``; else ``(why, the
        node at fault)``."""
        members: list[str] = []
        sources: list[str] = []
        pending = [top]
        while pending:
            up = pending.pop()
            if up in members:
                continue
            if up != exit_node and len(self.outgoing[up]) != 1:
                return (
                    f"node {up!r} feeds {len(self.outgoing[up])} nodes (a branch), not all of which can run "
                    "in PostgreSQL on this connection",
                    up,
                )
            module = self.nodes[up].module
            members.append(up)
            if module == SOURCE:
                sources.append(up)
                continue
            definition = self.modules[up]
            if definition.category != "transform":
                return f"node {up!r} ({module}) is not a source.postgres", up
            if definition.elt is None:
                supported = ", ".join(elt_modules())
                return (
                    f"node {up!r} uses {module}, which has no PostgreSQL builder (supported: {supported})",
                    up,
                )
            if definition.outputs != ("out",) and up != exit_node:
                return (
                    f"node {up!r} ({module}) has several outputs, pushed down only when each feeds a "
                    "table on the same connection, or as the last node PostgreSQL runs (each output staged)",
                    up,
                )
            refusal = _refusal(definition, self.configs, up, self.config(up))
            if refusal is not None:
                return f"node {up!r} ({module}): {refusal}", up
            pending.extend(source for source, _port in self.incoming[up])
        return members, sources

    def _walk_back(self, destination: str) -> tuple[EltPath | None, str, str | None]:
        """The sub-graph ending at ``destination``, or ``None``, why (naming the blocking node) and that
        node."""
        destination_conn = self.config(destination).get("conn_id")
        ups = self.incoming[destination]
        if len(ups) != 1:
            return None, f"node {destination!r} has {len(ups)} inputs", destination
        collected = self._collect(ups[0][0], None)
        if isinstance(collected[0], str):
            why, at = collected
            return None, why, str(at)
        members, sources = collected
        graph = len(sources) > 1 or any(
            self.modules[m].multi for m in members if self.nodes[m].module != SOURCE
        )
        refusal = self._incremental_refusal(sources) if graph else None
        if refusal is not None:
            return None, *refusal
        for source in sources:
            conn_id = self.config(source).get("conn_id")
            if not conn_id or conn_id != destination_conn:
                return (
                    None,
                    f"source node {source!r} (conn_id {conn_id!r}) and destination node {destination!r} "
                    f"(conn_id {destination_conn!r}) use different connections",
                    destination,
                )
        return self._path(members, sources, str(destination_conn), destination), "", None

    def _path(self, members: list[str], sources: list[str], conn_id: str, destination: str | None) -> EltPath:
        order = _upstream_first(members, self.incoming)
        graph = len(sources) > 1 or any(
            self.modules[m].multi for m in members if self.nodes[m].module != SOURCE
        )
        tail = (destination,) if destination is not None else ()
        exit_ = destination is None
        outputs = self.modules[order[-1]].outputs if exit_ else ()
        ports = outputs if len(outputs) > 1 else ()
        if not graph:
            return EltPath(nodes=(*order, *tail), conn_id=conn_id, exit=exit_, ports=ports)
        inputs = tuple(
            (member, tuple(self.refs[member])) for member in order if self.nodes[member].module != SOURCE
        )
        return EltPath(nodes=(*order, *tail), conn_id=conn_id, inputs=inputs, exit=exit_, ports=ports)


def _refusal(
    definition: ModuleDef, configs: Mapping[str, Any] | None, node_id: str, raw: dict[str, Any]
) -> str | None:
    """Why this node's config cannot run in PostgreSQL although its module can (its own check)."""
    from airflow_provider_logidata.engine.dialects import dialect

    check = definition.elt_refusal
    if check is None:
        return None
    config = configs[node_id] if configs is not None and node_id in configs else None
    if config is None:
        try:
            config = definition.config_model.model_validate(raw)
        except ValueError:
            return None  # invalid: validation reports it
    reason = check(config, dialect(DIALECT))
    return None if reason is None else str(reason)


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

    ``cursor_paths``: (cursor source, destination.postgres) pairs that ``engine: auto`` runs as ETL (not
    pushed down): the docs say why.
    """
    lines = ["#### Engine", ""]
    for path in paths:
        if path.linear:
            what = f"`{' → '.join(path.nodes)}`"
        else:
            what = f"the graph of `{', '.join(path.nodes)}`"
            if len(path.sources) > 1:
                what += f" (sources `{', '.join(path.sources)}`, joined)"
        if path.sinks:
            lines.append(
                f"- ELT: {what} runs inside PostgreSQL (connection `{path.conn_id}`) in task "
                f"`{path.destination}`, loading `{'`, `'.join(path.destinations)}` in one transaction; a "
                "node feeding several of them is computed once, into a temporary table. The task log shows "
                "the SQL."
            )
            continue
        if path.exit and path.ports:
            lines.append(
                f"- ELT, then ETL: {what} runs inside PostgreSQL (connection `{path.conn_id}`) in task "
                f"`{path.destination}`, in one snapshot; only the rows of its outputs "
                f"(`{'`, `'.join(path.ports)}`) leave the database, each staged on its own for the nodes "
                "after it. The task log shows the SQL."
            )
            continue
        if path.exit:
            lines.append(
                f"- ELT, then ETL: {what} runs as one SQL statement inside PostgreSQL (connection "
                f"`{path.conn_id}`) in task `{path.destination}`; only its result leaves the database, "
                "staged for the nodes after it. The task log shows the SQL."
            )
            continue
        lines.append(
            f"- ELT: {what} runs as one SQL statement inside PostgreSQL (connection `{path.conn_id}`) in "
            f"task `{path.destination}`; the task log shows the SQL."
        )
    for source, destination in cursor_paths:
        lines.append(
            f"- ETL: `{source}` → `{destination}` reads by cursor and is not pushed down, so it runs in the "
            "ETL engine: each destination drops the rows it already holds and commits its own cursor in the "
            "same transaction as its rows."
        )
    lines.append("- ETL (DuckDB over staged Parquet): every other node.")
    return "\n".join(lines)
