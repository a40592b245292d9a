"""Which part of a pipeline a preview runs: the node and everything upstream of it, nothing else.

Pure (no database, no DuckDB): the API plans in its own process, answers 404/422 at once, and hands the
worker a small, picklable :class:`PreviewPlan`. Drafts are previewable: only problems of the nodes the
preview runs count, so a half-drawn branch elsewhere on the canvas does not block it.

The plan's :attr:`PreviewPlan.key` hashes exactly what decides the answer (modules, validated configs,
the wiring of the upstream nodes, the engine and the sampling), never labels or positions, so moving a
node on the canvas keeps its cached preview while changing any upstream config does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Sampling = Literal["head", "random"]

# A lone source is what one previews right after dropping it on the canvas: not a problem here.
_IGNORED_MESSAGES = ("source has no consumer",)
_EDGE_PATH = re.compile(r"^edges\[(\d+)\]")
_NODE_PATH = re.compile(r"^nodes\[(\d+)\]")


class PreviewError(Exception):
    """A preview that cannot run: the API answers ``status`` with ``detail`` and ``errors``."""

    status = 500

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class UnknownNode(PreviewError):
    status = 404


class InvalidUpstream(PreviewError):
    status = 422


@dataclass(frozen=True)
class PlanInput:
    """One incoming edge of a planned node: where the data comes from and which input it fills."""

    source: str
    source_port: str = "out"
    target_port: str | None = None


@dataclass(frozen=True)
class PlanNode:
    id: str
    module: str
    category: str
    config: dict[str, Any]  # validated, as JSON (defaults filled in)
    inputs: tuple[PlanInput, ...] = ()


@dataclass(frozen=True)
class PreviewPlan:
    """The nodes to run, upstream first; the last one is the previewed node."""

    node_id: str
    nodes: tuple[PlanNode, ...]
    limit: int
    sampling: Sampling
    seed: int | None
    engine: str = "auto"
    # Set when the node lies on a path the pipeline would push down to PostgreSQL (see preview.elt).
    elt_path: tuple[str, ...] | None = None
    elt_conn_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> PlanNode:
        return self.nodes[-1]

    def node(self, node_id: str) -> PlanNode:
        return next(node for node in self.nodes if node.id == node_id)

    @property
    def key(self) -> str:
        document = {
            "node": self.node_id,
            "nodes": [
                {
                    "id": node.id,
                    "module": node.module,
                    "config": node.config,
                    "inputs": [[i.source, i.source_port, i.target_port] for i in node.inputs],
                }
                for node in self.nodes
            ],
            "limit": self.limit,
            "sampling": self.sampling,
            "seed": self.seed,
            "engine": self.engine,
            "elt": list(self.elt_path) if self.elt_path else None,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def plan_preview(
    data: Any, node_id: str, *, limit: int = 100, sampling: Sampling = "head", seed: int | None = None
) -> PreviewPlan:
    """Plan the preview of ``node_id`` in the pipeline document ``data`` (saved or not).

    Raises :class:`UnknownNode` (404) or :class:`InvalidUpstream` (422, with the validation issues of
    the node and its upstream nodes, paths as ``POST /validate`` gives them).
    """
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.spec import validate_pipeline
    from airflow_provider_logidata.spec.row_keys import example_keys

    if not isinstance(data, dict):
        raise InvalidUpstream(
            "the pipeline must be a JSON object", [{"path": "", "message": "not an object"}]
        )
    raw_nodes: list[Any] = data["nodes"] if isinstance(data.get("nodes"), list) else []
    raw_edges: list[Any] = data["edges"] if isinstance(data.get("edges"), list) else []
    positions: dict[str, int] = {}
    for index, raw in enumerate(raw_nodes):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            positions.setdefault(raw["id"], index)
    if node_id not in positions:
        known = ", ".join(positions) or "(no nodes)"
        raise UnknownNode(f"node {node_id!r} is not in the pipeline; its nodes: {known}")

    edges = _edges(raw_edges, positions)
    upstream = _upstream(node_id, edges)
    result = validate_pipeline(data)
    relevant = [issue for issue in result.issues if _concerns(issue, upstream, positions, raw_edges)]
    modules = registry()
    # Failing rows named by the pipeline's keys, as the run names them (spec.row_keys).
    row_keys = (
        example_keys(enumerate(result.pipeline.nodes), enumerate(result.pipeline.edges), result.configs)
        if result.pipeline is not None
        else {}
    )
    nodes: dict[str, PlanNode] = {}
    render_issues: list[dict[str, Any]] = []
    for other in upstream:
        raw = raw_nodes[positions[other]]
        definition = modules.get(str(raw.get("module")))
        if definition is None:
            continue  # reported by the validator (unknown module)
        try:
            config = definition.config_model.model_validate(raw.get("config") or {})
        except Exception:  # reported by the validator with paths
            continue
        rendered = _render_templates(data, definition, config, other, positions[other], render_issues)
        if rendered is None:
            continue
        if other in row_keys:
            rendered = {**rendered, "keys": row_keys[other]}
        incoming = [edge for edge in edges if edge[1] == other]
        if definition.input_ports:
            order = {port: i for i, port in enumerate(definition.input_ports)}
            incoming.sort(key=lambda edge: order.get(edge[3] or "", len(order)))
        nodes[other] = PlanNode(
            id=other,
            module=definition.name,
            category=definition.category,
            config=rendered,
            inputs=tuple(PlanInput(source, port, target_port) for source, _, port, target_port in incoming),
        )
    render_issues.sort(key=lambda issue: positions[issue["node_id"]])
    if relevant or render_issues:
        issues = [issue.to_dict() for issue in relevant] or render_issues
        for issue in issues:
            issue.setdefault("node_id", None)
        names = sorted({str(i["node_id"]) for i in issues if i.get("node_id")})
        where = f"node {node_id!r}" if names in ([], [node_id]) else "nodes " + ", ".join(map(repr, names))
        raise InvalidUpstream(
            f"cannot preview node {node_id!r}: {where} "
            f"{'has' if len(names) <= 1 else 'have'} {len(issues)} problem(s); fix them first "
            f"({issues[0]['path'] or '(pipeline)'}: {issues[0]['message']})",
            issues,
        )
    ordered = _topological(upstream, edges)
    engine = str(data.get("engine") or "auto")
    plan = PreviewPlan(
        node_id=node_id,
        nodes=tuple(nodes[n] for n in ordered if n in nodes),
        limit=limit,
        sampling=sampling,
        seed=seed,
        engine=engine,
    )
    if result.pipeline is not None and engine != "etl":
        return _with_elt(plan, result)
    return plan


def _render_templates(
    data: dict[str, Any], definition: Any, config: Any, node_id: str, index: int, issues: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The node's config as JSON with its templates rendered the way a run renders them, or ``None``
    after adding the problems to ``issues``.

    Same sandbox and rules as a run (``security.templates``); the values are a preview's: today as the
    logical date, the pipeline's params, ``run_id`` ``"preview"``. The rendered config is what the plan's
    cache key hashes, so a preview of ``{{ ds }}`` is computed again the next day.
    """
    from pydantic import ValidationError

    from airflow_provider_logidata.security.template_check import check_strings
    from airflow_provider_logidata.security.templates import render_config, sample_context
    from airflow_provider_logidata.spec.errors import format_path

    dumped: dict[str, Any] = config.model_dump(mode="json", by_alias=True)
    prefix = f"nodes[{index}].config"
    refused = check_strings(dumped)
    for path, error in refused:
        issues.append(
            {"path": f"{prefix}.{path}" if path else prefix, "message": str(error), "node_id": node_id}
        )
    if refused:
        return None
    params = data.get("params") if isinstance(data.get("params"), dict) else None
    raw_id = data.get("id")
    pipeline_id = raw_id if isinstance(raw_id, str) else "preview"
    try:
        rendered = render_config(dumped, sample_context(params=params, dag_id=pipeline_id, task_id=node_id))
    except ValueError as error:  # the message starts with the field
        issues.append({"path": prefix, "message": str(error), "node_id": node_id})
        return None
    if rendered == dumped:
        return dumped
    try:
        result: dict[str, Any] = definition.config_model.model_validate(rendered).model_dump(
            mode="json", by_alias=True
        )
    except ValidationError as error:
        for item in error.errors():
            where = format_path(list(item["loc"]))
            issues.append(
                {
                    "path": f"{prefix}.{where}" if where else prefix,
                    "message": f"not valid after rendering templates: {item['msg']}",
                    "node_id": node_id,
                }
            )
        return None
    return result


# Public name: design-time schemas render a source's config exactly as a preview does.
render_node_config = _render_templates


def _edges(raw_edges: list[Any], positions: dict[str, int]) -> list[tuple[str, str, str, str | None]]:
    """(source, target, source_port, target_port) of each edge between existing nodes."""
    out = []
    for raw in raw_edges:
        if not isinstance(raw, dict):
            continue
        source, target = raw.get("source"), raw.get("target")
        if source in positions and target in positions and source != target:
            port = raw.get("source_port") or "out"
            target_port = raw.get("target_port")
            out.append(
                (str(source), str(target), str(port), target_port if isinstance(target_port, str) else None)
            )
    return out


def _upstream(node_id: str, edges: list[tuple[str, str, str, str | None]]) -> set[str]:
    found = {node_id}
    frontier = [node_id]
    while frontier:
        current = frontier.pop()
        for source, target, _, _ in edges:
            if target == current and source not in found:
                found.add(source)
                frontier.append(source)
    return found


def _topological(members: set[str], edges: list[tuple[str, str, str, str | None]]) -> list[str]:
    """Upstream first; a cycle among the members was already reported by the validator."""
    incoming = {n: {s for s, t, _, _ in edges if t == n and s in members} for n in members}
    ordered: list[str] = []
    ready = sorted(n for n, ups in incoming.items() if not ups)
    while ready:
        current = ready.pop(0)
        ordered.append(current)
        for other in sorted(members):
            if current in incoming[other]:
                incoming[other].discard(current)
                if not incoming[other] and other not in ordered and other not in ready:
                    ready.append(other)
    return ordered


def _concerns(issue: Any, upstream: set[str], positions: dict[str, int], raw_edges: list[Any]) -> bool:
    """Whether a validation issue is about a node (or an edge into a node) the preview runs."""
    if any(issue.message.startswith(text) for text in _IGNORED_MESSAGES):
        return False
    if issue.node_id is not None:
        return str(issue.node_id) in upstream
    path = issue.path or ""
    match = _NODE_PATH.match(path)
    if match:
        index = int(match.group(1))
        return any(position == index for name, position in positions.items() if name in upstream)
    match = _EDGE_PATH.match(path)
    if match:
        index = int(match.group(1))
        raw = raw_edges[index] if index < len(raw_edges) else None
        return isinstance(raw, dict) and raw.get("target") in upstream
    return False


def _with_elt(plan: PreviewPlan, result: Any) -> PreviewPlan:
    """Mark the plan when its node lies on a path a run would push down to PostgreSQL."""
    from dataclasses import replace

    from airflow_provider_logidata.dag_factory.elt_plan import EltPlanError, plan_elt
    from airflow_provider_logidata.modules.registry import registry

    definitions = registry()
    # plan_elt looks modules up by node id.
    modules = {node.id: definitions[node.module] for node in result.pipeline.nodes}
    try:
        paths = plan_elt(result.pipeline, modules, result.configs)
    except EltPlanError:
        return plan
    for path in paths:
        if plan.node_id in path.nodes:
            # What the previewed node needs, upstream first: the plan holds exactly its upstream nodes.
            # A destination.postgres shows what it would load (its input); an exit is a transform.
            loads = set(path.destinations)
            target = plan.target.inputs[0].source if plan.node_id in loads else plan.node_id
            wanted = {node.id for node in plan.nodes} - loads
            upto = tuple(node.id for node in plan.nodes if node.id in wanted and node.id in path.nodes)
            upto = upto[: upto.index(target) + 1]
            return replace(plan, elt_path=upto, elt_conn_id=path.conn_id)
    return plan
