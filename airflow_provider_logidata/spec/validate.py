"""Whole-pipeline validation that collects every problem instead of stopping at the first.

Structure first (pydantic), then each node's config through its module's model, then the graph. Graph
checks run on the nodes and edges that parsed, so one bad field never hides a cycle elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from airflow_provider_logidata.security.policy import check_config
from airflow_provider_logidata.spec.errors import SpecIssue, format_path, short_repr
from airflow_provider_logidata.spec.models import Edge, Node, Pipeline

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry


@dataclass
class ValidationResult:
    pipeline: Pipeline | None
    issues: list[SpecIssue] = field(default_factory=list)
    # Validated config model per node id, so the factory does not validate twice.
    configs: dict[str, BaseModel] = field(default_factory=dict)
    # What parsed, kept even when there are issues: design-time schemas of a draft check the nodes that
    # are complete (``schema.check``), so one half-configured node does not hide every column picker.
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    node_configs: dict[str, BaseModel] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.pipeline is not None and not self.issues


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """Follow a pydantic error location through nested models, to list the fields allowed there."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def issues_from_pydantic(
    exc: ValidationError,
    model: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
    node_id: str | None = None,
) -> list[SpecIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        ctx = err.get("ctx") or {}
        message = err["msg"]
        found: str | None = short_repr(err.get("input"))
        allowed: str | None = None
        if kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            message = f"unknown field {loc[-1]!r}"
            if owner is not None:
                # The names a document uses: a field's JSON alias (``as``), not its Python name (``as_``).
                allowed = ", ".join(f.alias or name for name, f in owner.model_fields.items())
            found = None
        elif kind == "missing":
            message = "required field is missing"
            found = None
        elif kind in ("literal_error", "enum"):
            message = "value is not one of the allowed values"
            allowed = str(ctx.get("expected", ""))
        elif kind == "string_pattern_mismatch":
            message = "text has characters that are not allowed"
            allowed = "letters, digits, '_' and '-'" + (" and '.'" if r"." in str(ctx.get("pattern")) else "")
        elif kind == "logidata":
            allowed = ctx.get("allowed")
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
        issues.append(
            SpecIssue(
                path=format_path(prefix + loc), message=message, found=found, allowed=allowed, node_id=node_id
            )
        )
    return issues


def _parse_items(raw: Any, model: type[Node] | type[Edge]) -> list[tuple[int, Any]]:
    """Parse list items one by one; errors were already reported by the whole-pipeline pass."""
    if not isinstance(raw, list):
        return []
    parsed = []
    for index, item in enumerate(raw):
        try:
            parsed.append((index, model.model_validate(item)))
        except ValidationError:
            continue
    return parsed


def _find_cycle(node_ids: list[str], adjacency: dict[str, list[str]]) -> list[str] | None:
    """Return the node ids of one cycle (first node repeated at the end), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(node_ids, white)
    stack_path: list[str] = []

    def visit(start: str) -> list[str] | None:
        # Iterative DFS: pipelines of thousands of nodes must not hit the recursion limit.
        iterators = [iter(adjacency.get(start, []))]
        colour[start] = grey
        stack_path.append(start)
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                iterators.pop()
                colour[stack_path.pop()] = black
                continue
            if colour.get(nxt) == grey:
                return [*stack_path[stack_path.index(nxt) :], nxt]
            if colour.get(nxt) == white:
                colour[nxt] = grey
                stack_path.append(nxt)
                iterators.append(iter(adjacency.get(nxt, [])))
        return None

    for node_id in node_ids:
        if colour[node_id] == white:
            cycle = visit(node_id)
            if cycle:
                return cycle
    return None


def validate_pipeline(
    data: Any, *, registry: ModuleRegistry | None = None, expected_id: str | None = None
) -> ValidationResult:
    """Validate a pipeline document (already decoded from JSON)."""
    if registry is None:
        from airflow_provider_logidata.modules.registry import registry as default_registry

        registry = default_registry()

    if not isinstance(data, dict):
        return ValidationResult(
            None,
            [SpecIssue("", "a pipeline must be a JSON object", found=type(data).__name__, allowed="object")],
        )

    issues: list[SpecIssue] = []
    pipeline: Pipeline | None = None
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_pydantic(exc, Pipeline))

    if expected_id is not None and data.get("id") != expected_id and isinstance(data.get("id"), str):
        issues.append(
            SpecIssue(
                "id",
                "pipeline id must match the file name",
                found=short_repr(data.get("id")),
                allowed=repr(expected_id),
            )
        )

    if pipeline is not None:  # the common case: reuse the parsed items instead of parsing them again
        nodes: list[tuple[int, Any]] = list(enumerate(pipeline.nodes))
        edges: list[tuple[int, Any]] = list(enumerate(pipeline.edges))
    else:
        nodes = _parse_items(data.get("nodes"), Node)
        edges = _parse_items(data.get("edges"), Edge)
    result = ValidationResult(None)
    issues.extend(_check_nodes(nodes, registry, result))
    issues.extend(_check_graph(nodes, edges, registry))
    engine = str(data["engine"]) if isinstance(data.get("engine"), str) else "auto"
    issues.extend(_check_incremental(nodes, edges, result, registry, pipeline, engine, bool(issues)))

    result.issues = [_with_field(issue) for issue in issues]
    result.pipeline = pipeline if not issues else None
    result.nodes = [node for _, node in nodes]
    result.edges = [edge for _, edge in edges]
    result.node_configs = dict(result.configs)
    if result.pipeline is None:
        result.configs = {}
    return result


_CONFIG_FIELD = re.compile(r"^nodes\[\d+\]\.config\.(.+)$")


def _with_field(issue: SpecIssue) -> SpecIssue:
    """The config field an issue is about, read from its path (``nodes[2].config.x``): the builder shows
    the issue under that field, the CLI and the factory report name the field's label."""
    found = _CONFIG_FIELD.match(issue.path)
    return dataclasses.replace(issue, field=found.group(1)) if found and issue.field is None else issue


def _check_nodes(
    nodes: list[tuple[int, Any]], registry: ModuleRegistry, result: ValidationResult
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    seen: dict[str, int] = {}
    for index, node in nodes:
        if node.id in seen:
            issues.append(
                SpecIssue(
                    f"nodes[{index}].id",
                    f"duplicate node id (also nodes[{seen[node.id]}].id)",
                    found=repr(node.id),
                    allowed="a unique id",
                    node_id=node.id,
                )
            )
        else:
            seen[node.id] = index
        module = registry.get(node.module)
        if module is None:
            issues.append(
                SpecIssue(
                    f"nodes[{index}].module",
                    "unknown module",
                    found=repr(node.module),
                    allowed=", ".join(registry.names()),
                    node_id=node.id,
                )
            )
            continue
        try:
            config = module.config_model.model_validate(node.config)
        except ValidationError as exc:
            issues.extend(issues_from_pydantic(exc, module.config_model, ("nodes", index, "config"), node.id))
            continue
        result.configs[node.id] = config
        for violation in check_config(module.category, config, stage="validate", raw=node.config):
            issues.append(
                SpecIssue(
                    f"nodes[{index}].config.{violation.path}",
                    violation.message,
                    node_id=node.id,
                )
            )
    return issues


def _check_graph(
    nodes: list[tuple[int, Any]], edges: list[tuple[int, Any]], registry: ModuleRegistry
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    by_id: dict[str, tuple[int, Any]] = {}
    for index, node in nodes:
        by_id.setdefault(node.id, (index, node))
    modules: dict[str, ModuleDef | None] = {nid: registry.get(n.module) for nid, (_, n) in by_id.items()}

    inputs: dict[str, list[Any]] = {nid: [] for nid in by_id}
    outputs: dict[str, list[Any]] = {nid: [] for nid in by_id}
    adjacency: dict[str, list[str]] = {nid: [] for nid in by_id}
    seen_edges: dict[tuple[str, str, str, str | None], int] = {}
    valid_ids = ", ".join(by_id) or "(no nodes)"
    for index, edge in edges:
        dangling = False
        for end in ("source", "target"):
            node_id = getattr(edge, end)
            if node_id not in by_id:
                issues.append(
                    SpecIssue(
                        f"edges[{index}].{end}",
                        "edge points to a node that does not exist",
                        found=repr(node_id),
                        allowed=valid_ids,
                    )
                )
                dangling = True
        if dangling:
            continue
        key = (edge.source, edge.target, edge.source_port, edge.target_port)
        if key in seen_edges:
            issues.append(
                SpecIssue(
                    f"edges[{index}]",
                    f"duplicate edge (same as edges[{seen_edges[key]}])",
                    found=f"{edge.source} -> {edge.target}",
                )
            )
            continue
        seen_edges[key] = index
        if edge.source == edge.target:
            issues.append(
                SpecIssue(
                    f"edges[{index}]",
                    "an edge cannot connect a node to itself",
                    found=f"{edge.source} -> {edge.target}",
                    node_id=edge.source,
                )
            )
            continue
        source_module = modules[edge.source]
        if source_module is not None and edge.source_port not in source_module.outputs:
            allowed = ", ".join(source_module.outputs) or "none: this module has no outputs"
            issues.append(
                SpecIssue(
                    f"edges[{index}].source_port",
                    f"module {source_module.name!r} has no output {edge.source_port!r}",
                    found=repr(edge.source_port),
                    allowed=allowed,
                    node_id=edge.source,
                )
            )
        target_module = modules[edge.target]
        if target_module is not None:
            issues.extend(_check_target_port(index, edge, target_module, inputs[edge.target]))
        inputs[edge.target].append((index, edge))
        outputs[edge.source].append((index, edge))
        adjacency[edge.source].append(edge.target)

    for node_id, (index, _node) in by_id.items():
        module = modules[node_id]
        if module is None:
            continue
        count = len(inputs[node_id])
        too_few = count < module.min_inputs
        too_many = module.max_inputs is not None and count > module.max_inputs
        if too_few or too_many:
            issues.append(
                SpecIssue(
                    f"nodes[{index}]",
                    f"module {module.name!r} takes {module.inputs_text()} input(s)",
                    found=f"{count} incoming edge(s)",
                    allowed=module.inputs_text(),
                    node_id=node_id,
                )
            )
        if module.category == "source" and not outputs[node_id]:
            issues.append(
                SpecIssue(
                    f"nodes[{index}]",
                    "source has no consumer: connect it to a transform or destination, or remove it",
                    node_id=node_id,
                )
            )

    cycle = _find_cycle(list(by_id), adjacency)
    if cycle:
        issues.append(
            SpecIssue(
                "edges",
                "the edges form a cycle: " + " -> ".join(cycle),
                allowed="a graph without cycles",
                node_id=cycle[0],
            )
        )
    return issues


def _check_incremental(
    nodes: list[tuple[int, Any]],
    edges: list[tuple[int, Any]],
    result: ValidationResult,
    registry: ModuleRegistry,
    pipeline: Pipeline | None,
    engine: str,
    earlier_issues: bool,
) -> list[SpecIssue]:
    """What incremental sources may feed (``spec.incremental``), and with engine ``elt`` the pushdown
    plan itself (``dag_factory.elt_plan``), so that a pipeline the DAG factory could not build is refused
    here, naming the node, rather than when its DAG is built."""
    from airflow_provider_logidata.spec.incremental import incremental_issues

    found = incremental_issues(nodes, edges, result.configs)
    if engine != "elt" or pipeline is None or earlier_issues or found:
        return found
    from airflow_provider_logidata.dag_factory.elt_plan import EltPlanError, plan_elt

    try:
        plan_elt(pipeline, {node.id: registry[node.module] for node in pipeline.nodes}, result.configs)
    except EltPlanError as error:
        found.append(
            SpecIssue(
                "engine",
                str(error),
                found="'elt'",
                allowed="'auto', 'etl'",
                node_id=error.blocker or error.node_id,
            )
        )
    return found


def _check_target_port(
    index: int, edge: Edge, module: ModuleDef, earlier: list[tuple[int, Edge]]
) -> list[SpecIssue]:
    path = f"edges[{index}].target_port"
    if not module.input_ports:
        if edge.target_port is None:
            return []
        return [
            SpecIssue(
                path,
                f"module {module.name!r} takes unnamed inputs; remove target_port",
                found=repr(edge.target_port),
                node_id=edge.target,
            )
        ]
    allowed = ", ".join(module.input_ports)
    if edge.target_port not in module.input_ports:
        message = (
            f"module {module.name!r} needs the input named on each edge"
            if edge.target_port is None
            else f"module {module.name!r} has no input {edge.target_port!r}"
        )
        found = None if edge.target_port is None else repr(edge.target_port)
        return [SpecIssue(path, message, found=found, allowed=allowed, node_id=edge.target)]
    for other_index, other in earlier:
        if other.target_port == edge.target_port:
            return [
                SpecIssue(
                    path,
                    f"input {edge.target_port!r} of node {edge.target!r} is already connected "
                    f"(edges[{other_index}])",
                    found=repr(edge.target_port),
                    allowed=allowed,
                    node_id=edge.target,
                )
            ]
    return []


def load_json(text: str | bytes) -> tuple[Any, SpecIssue | None]:
    """Decode JSON within the limits of security/jsonsafe.py (nesting, integer size, no NaN/Infinity,
    UTF-8), turning a syntax error or a broken limit into an issue that names line and column."""
    from airflow_provider_logidata.security.jsonsafe import JsonLimitError, loads

    try:
        return loads(text), None
    except json.JSONDecodeError as exc:
        return None, SpecIssue("", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except JsonLimitError as exc:
        return None, SpecIssue("", f"file is {exc}" if exc.kind == "encoding" else f"JSON refused: {exc}")
    except UnicodeDecodeError as exc:
        return None, SpecIssue("", f"file is not UTF-8 text: {exc.reason} at byte {exc.start}")
