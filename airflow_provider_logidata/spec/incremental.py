"""Validation of incremental loads: what a cursor or interval source may feed, checked on the graph.

A pure step over the parsed nodes and validated configs (no database, no Airflow), called by
``spec.validate.validate_pipeline`` so that ``logidata import``, the builder and the DAG factory refuse a
pipeline that would lose or duplicate rows before it runs. The rules follow from how the loads work
(``engine.incremental``, ``engine.incremental_load``):

Cursor source -> destination:

- every destination keeps its own cursor and drops, at load time, the rows it already holds: the rows below
  its cursor value by the cursor column, the rows at that value by a hash of the row as it arrives. So the
  cursor column must reach the destination unchanged and under the same name (``select_columns`` keeping
  it as is, no ``derive_column``/``map_values``/``parse_dates``/``fill_nulls``/``clean_text`` rewriting
  it), and, where the destination tells boundary rows apart by their hash (mode ``append``, files), a row
  must arrive the same in every run: nodes whose output row depends on other rows or other data
  (``aggregate``, ``join``, ``union``, ``sql``, ``python``, ``fill_nulls`` with a statistic, modules this
  check does not know) are refused on the way. A merge on keys does not need the hashes: there ``join``
  (inner or left), ``sql`` and ``python`` are allowed (the cursor column is checked at run time);
  ``aggregate`` (partial groups would overwrite whole ones), ``union`` and right or full joins (rows of
  the other input would go through the cursor filter) are refused everywhere.
- ``destination.postgres`` in mode ``replace`` is refused (the table would hold only the new rows), and
  so is a destination fed by two cursor sources (one cursor per destination).
- pushed down (ELT), each ``destination.postgres`` a cursor source reaches still drops what it holds and
  commits its own cursor with its rows, in the task's one transaction (``engine.elt_cursor``); what
  cannot be pushed down (``engine: elt``) is the ELT planner's to refuse (``dag_factory.elt_plan``).

Interval source -> destination:

- ``destination.postgres`` in mode ``append`` replaces the interval's rows (delete and insert in one
  transaction) by the interval column, which must therefore reach it under the same name: a
  ``select_columns`` dropping or renaming it, an ``aggregate`` not grouping by it, or a node rewriting it
  is refused (unless the destination merges on keys). ``sql``, ``python`` and joins are checked at run time.
- ``destination.file`` must write one file or partition per interval, replaced by a rerun: its path uses
  the run's date (``{{ ds }}``, ``{{ ds_nodash }}``, ``{{ ts_nodash }}``, ``{{ data_interval_start }}``,
  ...), or it partitions by the interval column with mode ``overwrite_partitions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.spec.errors import SpecIssue

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

SOURCE = "source.postgres"
DESTINATION_POSTGRES = "destination.postgres"
DESTINATION_FILE = "destination.file"
DESTINATIONS = (DESTINATION_POSTGRES, DESTINATION_FILE)
# Template names that make a path depend on the run's interval (``security.template_rules``).
RUN_DATE_NAMES = frozenset(
    {"ds", "ds_nodash", "ts", "ts_nodash", "logical_date", "data_interval_start", "data_interval_end"}
)


def _dump(config: Any) -> dict[str, Any]:
    if hasattr(config, "model_dump"):
        return dict(config.model_dump(mode="json", by_alias=True))
    return dict(config or {})


class Graph:
    """The parsed nodes and edges, with reachability."""

    def __init__(
        self, nodes: Iterable[tuple[int, Any]], edges: Iterable[tuple[int, Any]], configs: Mapping[str, Any]
    ):
        self.index: dict[str, int] = {}
        self.module: dict[str, str] = {}
        self.order: list[str] = []
        for index, node in nodes:
            if node.id not in self.index:
                self.index[node.id] = index
                self.module[node.id] = node.module
                self.order.append(node.id)
        self._configs = configs
        self._dumped: dict[str, dict[str, Any]] = {}
        self.out: dict[str, list[str]] = {n: [] for n in self.order}
        self.into: dict[str, list[str]] = {n: [] for n in self.order}
        for _index, edge in edges:
            if edge.source in self.out and edge.target in self.into:
                self.out[edge.source].append(edge.target)
                self.into[edge.target].append(edge.source)

    def cfg(self, node_id: str) -> dict[str, Any]:
        """A node's config as JSON (dumped on first use: most nodes are never looked at)."""
        if node_id not in self._dumped:
            raw = self._configs.get(node_id)
            self._dumped[node_id] = _dump(raw) if raw is not None else {}
        return self._dumped[node_id]

    def _walk(self, start: str, links: Mapping[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            for nxt in links.get(frontier.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        return seen

    def downstream(self, node_id: str) -> set[str]:
        return self._walk(node_id, self.out)

    def upstream(self, node_id: str) -> set[str]:
        return self._walk(node_id, self.into)

    def between(self, source: str, destination: str) -> list[str]:
        """The nodes on some path from ``source`` to ``destination`` (both excluded), in pipeline order."""
        on_path = self.downstream(source) & self.upstream(destination)
        return [n for n in self.order if n in on_path]

    def incremental(self, node_id: str) -> dict[str, Any] | None:
        if self.module.get(node_id) != SOURCE:
            return None
        spec = self.cfg(node_id).get("incremental")
        return spec if isinstance(spec, dict) and spec.get("mode") in ("cursor", "data_interval") else None

    def destinations(self, source: str) -> list[str]:
        below = self.downstream(source)
        return [n for n in self.order if n in below and self.module.get(n) in DESTINATIONS]


def cursor_destinations(
    nodes: Iterable[tuple[int, Any]], edges: Iterable[tuple[int, Any]], configs: Mapping[str, Any]
) -> dict[str, list[dict[str, str]]]:
    """Per cursor source node, the destinations it feeds, as its operator's ``cursor_destinations``."""
    graph = Graph(nodes, edges, configs)
    out: dict[str, list[dict[str, str]]] = {}
    for source in graph.order:
        spec = graph.incremental(source)
        if spec is None or spec.get("mode") != "cursor":
            continue
        items = []
        for destination in graph.destinations(source):
            item = {"task_id": destination, "module": graph.module[destination]}
            if graph.module[destination] == DESTINATION_POSTGRES:
                config = graph.cfg(destination)
                for name in ("conn_id", "schema", "table"):
                    if isinstance(config.get(name), str):
                        item[name] = config[name]
            items.append(item)
        out[source] = items
    return out


def cursor_paths(
    nodes: Iterable[tuple[int, Any]], edges: Iterable[tuple[int, Any]], configs: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(cursor source, destination.postgres) pairs: paths ELT leaves to the ETL engine."""
    graph = Graph(nodes, edges, configs)
    return [
        (source, destination)
        for source in graph.order
        if (graph.incremental(source) or {}).get("mode") == "cursor"
        for destination in graph.destinations(source)
        if graph.module[destination] == DESTINATION_POSTGRES
    ]


def incremental_issues(
    nodes: Iterable[tuple[int, Any]],
    edges: Iterable[tuple[int, Any]],
    configs: Mapping[str, Any],
) -> list[SpecIssue]:
    """Every problem of the pipeline's incremental sources and what they feed (see the module doc)."""
    graph = Graph(nodes, edges, configs)
    issues: list[SpecIssue] = []
    cursor_sources: dict[str, list[str]] = {}
    for source in graph.order:
        spec = graph.incremental(source)
        if spec is None or not isinstance(spec.get("column"), str):
            continue
        column = spec["column"]
        for destination in graph.destinations(source):
            if spec["mode"] == "cursor":
                cursor_sources.setdefault(destination, []).append(source)
                issues.extend(_cursor_issues(graph, source, column, destination))
            else:
                issues.extend(_interval_issues(graph, source, column, destination))
    for destination, sources in cursor_sources.items():
        if len(sources) > 1:
            issues.append(
                SpecIssue(
                    f"nodes[{graph.index[destination]}]",
                    f"destination {destination!r} is fed by several cursor sources "
                    f"({', '.join(map(repr, sources))}); a destination keeps the cursor of one source only: "
                    "load each source into its own destination",
                    node_id=destination,
                )
            )
    return issues


def _issue(graph: Graph, node_id: str, message: str, field: str = "") -> SpecIssue:
    path = f"nodes[{graph.index[node_id]}]" + (f".config.{field}" if field else "")
    return SpecIssue(path, message, node_id=node_id)


def _cursor_issues(graph: Graph, source: str, column: str, destination: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    config = graph.cfg(destination)
    module = graph.module[destination]
    mode = config.get("mode", "append") if module == DESTINATION_POSTGRES else "files"
    where = f"cursor source {source!r} feeds {module} {destination!r}"
    if module == DESTINATION_POSTGRES and mode == "replace":
        issues.append(
            _issue(
                graph,
                destination,
                f"{where} in mode 'replace': each run would empty the table and load only the rows that are "
                "new since the previous run. Use mode 'append' or 'merge' (keys), or read without a cursor",
                "mode",
            )
        )
    needs_boundary = mode != "merge"
    between = f"{module} {destination!r}"
    why_boundary = (
        "with mode 'append' or a file destination, the rows at the last cursor value are read again and "
        "recognised by their content, so each row must reach the destination the same in every run"
    )
    for node_id in graph.between(source, destination):
        node_module = graph.module[node_id]
        node_config = graph.cfg(node_id)
        label = f"node {node_id!r} ({node_module}) is between cursor source {source!r} and " + between
        if node_module == "aggregate":
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"{label}: a cursor read brings only the new rows, so its groups would be partial and "
                    "overwrite or duplicate the complete ones. Aggregate in a separate pipeline reading the "
                    "destination, or read this source without cursor",
                )
            )
        elif node_module == "union":
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"{label}: the rows of its other inputs would go through {source!r}'s cursor filter at "
                    "the destination. Load each input into its own destination, or read without cursor",
                )
            )
        elif node_module == "join" and node_config.get("how") in ("right", "full"):
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"{label}: a {node_config.get('how')} join adds rows without {column!r}, which the "
                    "destination's cursor filter would drop. Use an inner or left join with the cursor "
                    "source on the left",
                    "how",
                )
            )
        elif needs_boundary and not row_wise(node_module):
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"{label}: {why_boundary}, and {node_module} may make a row depend on other rows or "
                    "other data. Set the destination to mode 'merge' with keys (loading a row again then "
                    "only merges it), or move this node",
                )
            )
        elif needs_boundary and node_module == "fill_nulls":
            statistic = [
                f.get("column")
                for f in node_config.get("fills", [])
                if f.get("strategy", "constant") != "constant"
            ]
            if statistic:
                issues.append(
                    _issue(
                        graph,
                        node_id,
                        f"{label}: {why_boundary}, and a fill by statistic "
                        f"({', '.join(map(str, statistic))}) depends on the other rows read. Fill with a "
                        "constant, or set the destination to mode 'merge' with keys",
                        "fills",
                    )
                )
        problem = column_change(node_module, node_config, column)
        if problem:
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"{label}: it {problem} the cursor column {column!r}, which must reach the destination "
                    "unchanged and under the same name: the destination compares it with its cursor to drop "
                    "the rows it already holds. Keep the column as read (rename a copy with derive_column)",
                )
            )
    return issues


def row_wise(module: str) -> bool:
    """Whether the module's output rows are input rows, each computed from that row alone (``ModuleDef``)."""
    from airflow_provider_logidata.modules.registry import registry

    definition = registry().get(module)
    return definition is not None and definition.row_wise


def column_change(module: str, config: Mapping[str, Any], column: str) -> str:
    """How a node drops, renames or changes ``column`` ("" when it keeps it, or cannot tell)."""
    from airflow_provider_logidata.modules.registry import registry

    definition = registry().get(module)
    if definition is None or definition.changes_column is None:
        return ""
    return definition.changes_column(config, column)


def _interval_issues(graph: Graph, source: str, column: str, destination: str) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    config = graph.cfg(destination)
    module = graph.module[destination]
    where = f"interval source {source!r} feeds {module} {destination!r}"
    if module == DESTINATION_FILE:
        path = str(config.get("path") or "")
        partitions = config.get("partition_by") or []
        by_interval = column in partitions and config.get("mode") == "overwrite_partitions"
        if not _uses_run_date(path) and not by_interval:
            issues.append(
                _issue(
                    graph,
                    destination,
                    f"{where}, whose path {path!r} is the same for every run: each run would replace the "
                    "previous intervals' rows. Put the run's date in the path (e.g. "
                    "out/day={{ ds }}/part.parquet or out_{{ ds_nodash }}.csv): a rerun then replaces "
                    f"exactly its own file; or partition by {column!r} with mode 'overwrite_partitions'",
                    "path",
                )
            )
        return issues
    if config.get("mode", "append") != "append":
        return issues
    for node_id in graph.between(source, destination):
        problem = column_change(graph.module[node_id], graph.cfg(node_id), column)
        if problem:
            issues.append(
                _issue(
                    graph,
                    node_id,
                    f"node {node_id!r} ({graph.module[node_id]}) is between interval source {source!r} and "
                    f"{module} {destination!r} (mode 'append'): it "
                    f"{problem} the interval column {column!r}, by which a rerun finds and replaces the "
                    "interval's earlier rows in the table. Keep the column as read, or set the destination "
                    "to mode 'merge' with keys",
                )
            )
    return issues


def _uses_run_date(path: str) -> bool:
    if "{{" not in path and "{%" not in path:
        return False
    from airflow_provider_logidata.security import template_check

    try:
        refusal, names = template_check.analysis(path)
    except Exception:  # a template refused elsewhere (security policy) is reported there
        return True
    return refusal is None and bool(set(names) & RUN_DATE_NAMES)
