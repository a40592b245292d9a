""" "Describe a step": free text → proposed node(s), validated against the module schemas.

The model sees the single-input transforms with their config JSON Schemas and the node's columns, and
must answer ``{"nodes": [{"module", "config", "label"}], "explanation"}``. Its proposal is never trusted:
every node is validated with the module's config model (and, when a sample is given, run over it); if
any node is invalid the answer carries the errors and no nodes, so nothing invalid can be applied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import pyarrow as pa

MAX_NODES = 5
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


@dataclass
class DescribeResult:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    explanation: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "errors": self.errors, "explanation": self.explanation}


def step_modules() -> list[Any]:
    """Transforms a described step may use: one input (the node's output), run on a sample."""
    from airflow_provider_logidata.modules.registry import registry

    return [m for m in registry() if m.category == "transform" and m.max_inputs == 1 and m.name != "python"]


def messages(text: str, columns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    modules = [
        {"module": m.name, "description": m.description, "config_schema": m.config_model.model_json_schema()}
        for m in step_modules()
    ]
    system = (
        "You add steps to a data pipeline. Answer with one JSON object only: "
        '{"nodes": [{"module": "<module name>", "config": {...}, "label": "<short label>"}], '
        '"explanation": "<one sentence>"}. Use only these modules; each config must validate against its '
        "JSON Schema; column names must be among the input columns; SQL expressions use DuckDB syntax. "
        f"At most {MAX_NODES} nodes, applied in order.\nModules: {json.dumps(modules, separators=(',', ':'))}"
    )
    shown = ", ".join(f"{name} ({duck_type})" for name, duck_type in columns) or "unknown"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Input columns: {shown}.\nStep: {text}"},
    ]


def _issue(path: str, message: str) -> dict[str, Any]:
    return {"path": path, "message": message, "node_id": None}


def parse_proposal(answer: str, sample: pa.Table | None = None) -> DescribeResult:
    """Validate the model's answer; nodes only when every one of them is valid."""
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.spec.errors import format_path

    try:
        data = json.loads(_FENCE.sub("", answer.strip()))
    except ValueError as error:
        return DescribeResult(
            errors=[_issue("", f"the model's answer is not JSON ({error}): {answer[:200]!r}")]
        )
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return DescribeResult(errors=[_issue("nodes", "the model's answer has no list of nodes")])
    explanation = str(data.get("explanation") or "")
    allowed = {m.name for m in step_modules()}
    nodes: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    if not data["nodes"]:
        errors.append(_issue("nodes", "the model proposed no step; describe it differently"))
    if len(data["nodes"]) > MAX_NODES:
        errors.append(_issue("nodes", f"the model proposed {len(data['nodes'])} steps; at most {MAX_NODES}"))
    for index, raw in enumerate(data["nodes"][:MAX_NODES]):
        where = f"nodes[{index}]"
        if not isinstance(raw, dict):
            errors.append(_issue(where, "not an object"))
            continue
        module = str(raw.get("module") or "")
        config = raw.get("config") if isinstance(raw.get("config"), dict) else {}
        if module not in allowed:
            errors.append(
                _issue(
                    f"{where}.module",
                    f"unknown or unusable module {module!r}; allowed: {', '.join(sorted(allowed))}",
                )
            )
            continue
        try:
            validated = registry()[module].config_model.model_validate(config)
        except ValueError as error:
            for item in getattr(error, "errors", lambda: [])():
                path = format_path((*(("config",)), *item.get("loc", ())))
                errors.append(_issue(f"{where}.{path}", str(item.get("msg", "invalid value"))))
            continue
        nodes.append(
            {
                "module": module,
                "config": validated.model_dump(mode="json", by_alias=True, exclude_defaults=True),
                "label": str(raw.get("label") or module)[:200],
                "input_port": None,
                "extra_inputs": {},
            }
        )
    if not errors and sample is not None:
        from airflow_provider_logidata.suggest.effect import ProposalError, apply_nodes
        from airflow_provider_logidata.suggest.engine import proposed_nodes

        try:
            apply_nodes(sample, proposed_nodes(nodes))
        except ProposalError as error:
            errors.append(_issue("nodes", f"the proposed step does not run on the node's data: {error}"))
    return DescribeResult(nodes=[] if errors else nodes, errors=errors, explanation=explanation)


def describe_step(
    text: str,
    chat: Callable[[list[dict[str, str]]], str],
    *,
    sample: pa.Table | None = None,
    columns: Sequence[tuple[str, str]] | Mapping[str, str] = (),
) -> DescribeResult:
    """Ask the model (``chat``: messages → answer text) and validate its proposal."""
    if not columns and sample is not None:
        columns = [(f.name, str(f.type)) for f in sample.schema]
    pairs: list[tuple[str, str]] = (
        list(columns.items()) if isinstance(columns, dict) else [(str(c[0]), str(c[1])) for c in columns]
    )
    return parse_proposal(chat(messages(text, pairs)), sample)
