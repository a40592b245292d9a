"""Column lineage beyond one SELECT: through a graph of nodes (:func:`compose`, design time) and through
tasks at run time (:func:`carry`, :func:`chain_lineage`), where each staging handle carries its columns'
origins in the source datasets (``HandleLineage``) for the destination's OpenLineage ``columnLineage``
facet. Each node's own lineage comes from :mod:`~airflow_provider_logidata.schema.lineage`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from airflow_provider_logidata.schema.lineage import (
    _PASSED,
    IDENTITY,
    ColumnSource,
    Kind,
    _combine,
    _Mode,
    _Source,
    column_lineage,
)

log = logging.getLogger(__name__)

NodePort = tuple[str, str]


class Origin(NamedTuple):
    """A column of a node's output port that a traced column comes from."""

    node: str
    port: str
    column: str
    kind: Kind = "direct"
    subtype: str = IDENTITY


@dataclass(frozen=True)
class Trace:
    """One output column followed upstream.

    ``upstream``: per ``(node id, port)`` reached, the columns of it the traced column comes from (the
    traced column's own node included); ``sources``: where the trace ends, the columns of nodes that have
    no lineage (sources, or nodes whose SQL was not analysed), with how they reach the column.
    """

    upstream: Mapping[NodePort, tuple[str, ...]]
    sources: tuple[Origin, ...]


LineageEntry = Sequence[ColumnSource] | Sequence[tuple[str, str]]


def compose(
    lineage: Mapping[NodePort, Mapping[str, LineageEntry]],
    edges: Mapping[str, Mapping[str, NodePort]],
    node: str,
    port: str = "out",
    columns: Sequence[str] | None = None,
) -> dict[str, Trace]:
    """Follow ``columns`` of ``(node, port)`` (default: all its lineage's columns) through the graph.

    ``lineage``: per ``(node id, port)``, :func:`sql_lineage` or :func:`column_lineage` ``.columns`` of
    that port's SQL, keyed by its input relations. ``edges``: per node id, its input relation -> the
    upstream ``(node id, port)`` it reads. A plain pair counts as a direct identity. Upstream column
    names are matched exactly, then ignoring case (DuckDB's rule). Pure: no SQL parsed here.
    """
    memo: dict[tuple[NodePort, str], tuple[Origin, ...]] = {}

    def entries(at: NodePort, column: str) -> LineageEntry | None:
        found = lineage.get(at)
        if found is None:
            return None
        if column in found:
            return found[column]
        lowered = column.lower()
        return next((value for key, value in found.items() if key.lower() == lowered), ())

    step_memo: dict[tuple[NodePort, str], list[tuple[NodePort, str, _Mode]]] = {}

    def steps(at: NodePort, column: str) -> list[tuple[NodePort, str, _Mode]]:
        """The upstream columns one step up from ``column`` of ``at``."""
        key = (at, column)
        if key in step_memo:
            return step_memo[key]
        found = entries(at, column)
        out: list[tuple[NodePort, str, _Mode]] = []
        step_memo[key] = out
        for entry in found or ():
            relation, name = entry[0], entry[1]
            how: _Mode = (
                (entry.kind, entry.subtype) if isinstance(entry, ColumnSource) else ("direct", IDENTITY)
            )
            upstream = edges.get(at[0], {}).get(relation)
            if upstream is None:
                log.debug("lineage: %s reads %r, which no edge feeds", at, relation)
                continue
            out.append((upstream, name, how))
        return out

    visiting: set[tuple[NodePort, str]] = set()

    def origins(at: NodePort, column: str) -> tuple[Origin, ...]:
        key = (at, column)
        if key in memo:
            return memo[key]
        if at not in lineage:
            result: tuple[Origin, ...] = (Origin(at[0], at[1], column),)
        elif key in visiting:  # a cycle: the graph is not a pipeline's DAG
            return ()
        else:
            visiting.add(key)
            collected: list[Origin] = []
            for upstream, name, how in steps(at, column):
                if how == _PASSED:  # most steps pass a column on as it is
                    collected.extend(origins(upstream, name))
                    continue
                for origin in origins(upstream, name):
                    combined = _combine(how, _Source("", "", origin.kind, origin.subtype))
                    collected.append(origin._replace(kind=combined.kind, subtype=combined.subtype))
            visiting.discard(key)
            result = tuple(dict.fromkeys(collected))
        memo[key] = result
        return result

    def upstream_columns(start: NodePort, column: str) -> dict[NodePort, tuple[str, ...]]:
        reached: dict[NodePort, dict[str, None]] = {start: {column: None}}
        pending = [(start, column)]
        seen = {(start, column)}
        while pending:
            at, name = pending.pop()
            for upstream, upstream_name, _how in steps(at, name):
                reached.setdefault(upstream, {})[upstream_name] = None
                if (upstream, upstream_name) not in seen:
                    seen.add((upstream, upstream_name))
                    pending.append((upstream, upstream_name))
        return {at: tuple(names) for at, names in reached.items()}

    start = (node, port)
    wanted = list(columns) if columns is not None else list(lineage.get(start, {}))
    return {column: Trace(upstream_columns(start, column), origins(start, column)) for column in wanted}


# --- at run time: lineage carried by staging handles ---------------------------------------------------

# A handle's ``lineage``: ``{"datasets": [[namespace, name], ...], "columns": {column: [[dataset index,
# column, kind, subtype], ...]}, "dataset": [[dataset index, column, kind, subtype], ...]}``. Small JSON,
# so it travels in XCom; a task that cannot tell its lineage returns a handle without it.
HandleLineage = dict[str, Any]


def dataset_lineage(namespace: str, name: str, columns: Sequence[str]) -> HandleLineage:
    """A source's handle lineage: every column is itself, in the dataset ``namespace``/``name``."""
    return {
        "datasets": [[namespace, name]],
        "columns": {column: [[0, column, "direct", IDENTITY]] for column in columns},
        "dataset": [],
    }


def carry(
    sql: str,
    inputs: Mapping[str, tuple[Sequence[str], HandleLineage | None]],
    output: Sequence[str],
    *,
    views: Mapping[str, str] | None = None,
) -> HandleLineage | None:
    """The handle lineage of ``sql``'s result: its lineage over ``inputs`` (relation -> columns and that
    input's handle lineage) followed into the inputs' datasets. ``None`` when no input has lineage or on
    any failure (lineage never fails a task); a column through an input without lineage has none."""
    try:
        if not any(upstream for _columns, upstream in inputs.values()):
            return None
        step = column_lineage(
            sql, {relation: columns for relation, (columns, _u) in inputs.items()}, output, views=views
        )
        datasets: dict[tuple[str, str], int] = {}
        remapped: dict[str, dict[str, list[tuple[int, str, str, str]]]] = {}
        inherited: list[tuple[int, str, str, str]] = []
        for relation, (_columns, upstream) in inputs.items():
            if not upstream:
                continue
            index_map = [
                datasets.setdefault((str(namespace), str(name)), len(datasets))
                for namespace, name in upstream.get("datasets", [])
            ]
            remapped[relation] = {
                column: [(index_map[int(e[0])], str(e[1]), str(e[2]), str(e[3])) for e in entries]
                for column, entries in upstream.get("columns", {}).items()
            }
            inherited.extend(
                (index_map[int(e[0])], str(e[1]), str(e[2]), str(e[3])) for e in upstream.get("dataset", [])
            )

        def follow(source: ColumnSource) -> list[tuple[int, str, str, str]]:
            upstream_columns = remapped.get(source.relation)
            if upstream_columns is None:
                return []
            entries = upstream_columns.get(source.column)
            if entries is None:
                lowered = source.column.lower()
                entries = next((v for k, v in upstream_columns.items() if k.lower() == lowered), [])
            out: list[tuple[int, str, str, str]] = []
            for dataset_index, column, kind, subtype in entries:
                combined = _combine(
                    (source.kind, source.subtype),
                    _Source("", "", "indirect" if kind == "indirect" else "direct", subtype),
                )
                out.append((dataset_index, column, combined.kind, combined.subtype))
            return out

        columns = {
            name: [list(e) for e in dict.fromkeys(e for source in sources for e in follow(source))]
            for name, sources in step.columns.items()
        }
        shaping = dict.fromkeys([*inherited, *(e for source in step.dataset for e in follow(source))])
        return {
            "datasets": [list(key) for key in datasets],
            "columns": columns,
            "dataset": [list(e) for e in shaping],
        }
    except Exception:
        log.debug("lineage: cannot carry lineage through %r", sql, exc_info=True)
        return None


def chain_lineage(
    steps: Sequence[tuple[str, Sequence[str], str]],
    output: Sequence[str],
    upstream: HandleLineage | None,
    *,
    views: Mapping[str, str] | None = None,
) -> HandleLineage | None:
    """The handle lineage of a chain's result: ``steps`` are ``(relation, its columns, step SQL)`` in
    order, each step reading the previous step's relation; ``output`` the last step's columns."""
    current = upstream
    for index, (relation, columns, sql) in enumerate(steps):
        if current is None:
            return None
        produced = steps[index + 1][1] if index + 1 < len(steps) else output
        current = carry(sql, {relation: (columns, current)}, produced, views=views)
    return current
