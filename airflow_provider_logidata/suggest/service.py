"""Suggestions for a node of a pipeline document: sample it through the preview package, run the rules.

The ``*_job`` functions are what the API runs in the preview worker pool (``preview.pool``: separate
processes with a time limit and a memory cap): plain picklable arguments in, JSON-safe answers out. The
sample comes from the preview executor (sources push the limit down, transforms run with the engine's
builders).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.suggest.model import PipelineContext

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    import pyarrow as pa

    from airflow_provider_logidata.preview.plan import PreviewPlan
    from airflow_provider_logidata.suggest.sample import SampleContext

MAX_OTHER_SOURCES = 5
OTHER_SOURCE_ROWS = 5_000


def plan_for(pipeline: dict[str, Any], node_id: str, rows: int) -> PreviewPlan:
    """The preview plan of ``node_id`` (404/422 errors of the preview package propagate)."""
    from airflow_provider_logidata.preview.plan import plan_preview

    return plan_preview(pipeline, node_id, limit=rows, sampling="head")


def plan_table(plan: PreviewPlan) -> pa.Table:
    """The node's output sample as an Arrow table: ``plan.limit`` rows read from each source."""
    from airflow_provider_logidata import settings
    from airflow_provider_logidata.preview import execute
    from airflow_provider_logidata.preview.pool import parse_bytes
    from airflow_provider_logidata.preview.service import duckdb_limit

    return execute.plan_table(plan, memory_limit=duckdb_limit(parse_bytes(settings.preview_memory_limit())))


def _nodes(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = pipeline.get("nodes")
    if not isinstance(raw, list):
        return {}
    return {n["id"]: n for n in raw if isinstance(n, dict) and isinstance(n.get("id"), str)}


def _edges(pipeline: dict[str, Any]) -> list[tuple[str, str]]:
    raw = pipeline.get("edges")
    if not isinstance(raw, list):
        return []
    return [
        (str(e["source"]), str(e["target"]))
        for e in raw
        if isinstance(e, dict) and isinstance(e.get("source"), str) and isinstance(e.get("target"), str)
    ]


def _reach(start: str, edges: list[tuple[str, str]], *, down: bool) -> set[str]:
    found, frontier = {start}, [start]
    while frontier:
        current = frontier.pop()
        for source, target in edges:
            nxt = target if down and source == current else source if not down and target == current else None
            if nxt is not None and nxt not in found:
                found.add(nxt)
                frontier.append(nxt)
    return found


def pipeline_context(pipeline: dict[str, Any], plan: PreviewPlan) -> PipelineContext:
    """What the pipeline-level rules need, without the other sources' samples (see ``run_suggest``)."""
    from airflow_provider_logidata.modules.registry import registry

    nodes, edges = _nodes(pipeline), _edges(pipeline)
    node = nodes[plan.node_id]
    modules = registry()
    downstream = _reach(plan.node_id, edges, down=True) - {plan.node_id}
    keys: dict[str, list[str]] = {}
    checks: dict[str, dict[str, Any]] = {}
    for other in downstream:
        raw = nodes.get(other, {})
        definition = modules.get(str(raw.get("module")))
        found = raw.get("config")
        config: dict[str, Any] = found if isinstance(found, dict) else {}
        if definition is None:
            continue
        if definition.category == "destination" and isinstance(config.get("keys"), list) and config["keys"]:
            keys[other] = [str(k) for k in config["keys"]]
        elif definition.name == "quality_check":
            checks[other] = config
    guarded: set[str] = set()
    for check_id, config in checks.items():  # a check between the node and a keyed destination
        if any(dest in _reach(check_id, edges, down=True) for dest in keys):
            guarded |= {
                str(c.get("column"))
                for c in config.get("checks", [])
                if isinstance(c, dict) and c.get("type") == "not_null"
            }
    labels = {nid: str(raw.get("label") or nid) for nid, raw in nodes.items()}
    return PipelineContext(
        node_id=plan.node_id,
        node_module=str(node.get("module")),
        node_config=dict(node.get("config") or {}),
        node_labels=labels,
        downstream_keys=keys,
        guarded_keys=guarded,
        engine="elt" if plan.elt_path and plan.node_id in plan.elt_path else "etl",
    )


def other_source_ids(pipeline: dict[str, Any], node_id: str) -> list[str]:
    """Source nodes not upstream of the node (join candidates), at most ``MAX_OTHER_SOURCES``."""
    from airflow_provider_logidata.modules.registry import registry

    nodes, edges = _nodes(pipeline), _edges(pipeline)
    upstream = _reach(node_id, edges, down=False)
    out = []
    for nid, raw in nodes.items():
        definition = registry().get(str(raw.get("module")))
        if definition is not None and definition.category == "source" and nid not in upstream:
            out.append(nid)
    return out[:MAX_OTHER_SOURCES]


@dataclass
class Cancel:
    """Set by the caller's time limit: stops between rules and interrupts the running DuckDB query."""

    event: threading.Event
    sample: SampleContext | None = None

    def started(self, sample: SampleContext) -> None:
        self.sample = sample

    def fire(self) -> None:
        self.event.set()
        if self.sample is not None:
            self.sample.interrupt()


def run_suggest(
    pipeline: dict[str, Any],
    node_id: str,
    sample_rows: int,
    dismissed: list[str],
    cancel: Cancel | None = None,
    sampler: Callable[[PreviewPlan], pa.Table] = plan_table,
) -> dict[str, Any]:
    """``{"node_id", "sample_rows", "elapsed_ms", "suggestions"}`` for the API."""
    from airflow_provider_logidata.suggest.engine import suggest

    started = time.perf_counter()
    plan = plan_for(pipeline, node_id, sample_rows)
    table = sampler(plan)
    context = pipeline_context(pipeline, plan)
    for other in other_source_ids(pipeline, node_id):
        try:
            context.other_sources[other] = sampler(
                plan_for(pipeline, other, min(sample_rows, OTHER_SOURCE_ROWS))
            )
        except Exception:  # a half-configured other source only means no join suggestion with it
            continue
    found = suggest(
        table,
        pipeline=context,
        dismissed=dismissed,
        cancelled=cancel.event if cancel else None,
        on_start=cancel.started if cancel else None,
    )
    return {
        "node_id": node_id,
        "sample_rows": table.num_rows,
        "elapsed_ms": round(1000 * (time.perf_counter() - started), 1),
        "suggestions": [item.as_dict() for item in found],
    }


def run_check(
    pipeline: dict[str, Any],
    node_id: str,
    suggestion: dict[str, Any],
    sampler: Callable[[PreviewPlan], pa.Table] = plan_table,
    rows: int = 1000,
) -> str | None:
    """``None`` when the suggestion still fits the node's current output, else the reason."""
    from airflow_provider_logidata.suggest.engine import check_suggestion

    plan = plan_for(pipeline, node_id, rows)
    table = sampler(plan)
    inputs = {}
    nodes = _nodes(pipeline)
    for node in suggestion.get("nodes") or []:
        for port, other in (node.get("extra_inputs") or {}).items():
            if other not in nodes:
                return (
                    f"node {other!r} (input {port!r} of the suggested {node.get('module')}) "
                    "is no longer in the pipeline"
                )
            inputs[other] = sampler(plan_for(pipeline, other, rows))
    return check_suggestion(table, suggestion, node_id=node_id, inputs=inputs)


# --- jobs run in the preview worker pool (module:function targets) -----------------------------------

SUGGEST_JOB = "airflow_provider_logidata.suggest.service:suggest_job"
CHECK_JOB = "airflow_provider_logidata.suggest.service:check_job"
DESCRIBE_JOB = "airflow_provider_logidata.suggest.service:describe_job"


def suggest_job(
    pipeline: dict[str, Any], node_id: str, sample_rows: int, dismissed: list[str]
) -> dict[str, Any]:
    return run_suggest(pipeline, node_id, sample_rows, dismissed)


def check_job(pipeline: dict[str, Any], node_id: str, suggestion: dict[str, Any]) -> str | None:
    return run_check(pipeline, node_id, suggestion)


def describe_job(settings: Any, pipeline: dict[str, Any], node_id: str, text: str) -> dict[str, Any]:
    """Sample the node (its columns and a check run), ask the model, validate the proposal."""
    from airflow_provider_logidata.hooks.llm import chat
    from airflow_provider_logidata.suggest.llm import describe_step

    sample = plan_table(plan_for(pipeline, node_id, 200))
    return describe_step(text, lambda messages: chat(settings, messages), sample=sample).as_dict()
