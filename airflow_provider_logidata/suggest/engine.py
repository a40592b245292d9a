"""Run every rule over a sample, check and measure what they propose, rank the result.

Ranking (explained to the user through ``severity``, ``confidence`` and ``confidence_reason``): severity
first (high: data is wrong or lost downstream; medium: likely wrong; low: style and hygiene), then
confidence (how sure the rule is that this is a defect and not the data's nature), then the share of the
sample touched. A rule whose proposal the engine refuses on the sample is dropped (and logged): a
suggestion is only shown when its nodes ran.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.suggest.effect import ProposalError, apply_nodes, measure, validate_node
from airflow_provider_logidata.suggest.model import PipelineContext, ProposedNode, Suggestion
from airflow_provider_logidata.suggest.registry import rules
from airflow_provider_logidata.suggest.sample import SampleContext

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterable, Mapping

    import pyarrow as pa

log = logging.getLogger(__name__)


class SuggestTimeout(TimeoutError):
    """The time limit passed before every rule ran."""


def _profile_map(profile: Iterable[Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {str(p["name"]): dict(p) for p in profile or () if "name" in p}


def suggest(
    table: pa.Table,
    *,
    profile: Iterable[Mapping[str, Any]] | None = None,
    pipeline: PipelineContext | None = None,
    dismissed: Iterable[str] = (),
    only: Iterable[str] | None = None,
    cancelled: threading.Event | None = None,
    on_start: Callable[[SampleContext], None] | None = None,
) -> list[Suggestion]:
    """Ranked suggestions for ``table`` (a node's output sample), best first.

    ``only`` restricts to some rules (tests); ``cancelled`` stops between steps and ``on_start`` hands
    out the sample context, whose ``interrupt()`` stops a running DuckDB query (the time limit).
    """
    context = pipeline or PipelineContext()
    if not table.num_columns:
        return []  # nothing to look at (DuckDB cannot even register such a table)
    sample = SampleContext(table, profile=_profile_map(profile), pipeline=context)
    skip = set(dismissed)
    wanted = set(only) if only is not None else None
    if on_start is not None:
        on_start(sample)

    def check_time() -> None:
        if cancelled is not None and cancelled.is_set():
            raise SuggestTimeout("suggestions cancelled (time limit)")

    found: list[Suggestion] = []
    try:
        for rule in rules().values():
            if wanted is not None and rule.name not in wanted:
                continue
            check_time()
            started = time.perf_counter()
            try:
                found.extend(rule.detect(sample))
            except duckdb.InterruptException:
                raise SuggestTimeout("suggestions cancelled (time limit)") from None
            except Exception:  # one broken rule must not hide the others
                log.exception("suggestion rule %s failed on the sample", rule.name)
            log.debug("rule %s: %.1f ms", rule.name, 1000 * (time.perf_counter() - started))
        out: list[Suggestion] = []
        seen: set[str] = set()
        for item in found:
            if item.id in skip or item.id in seen:
                continue
            check_time()
            seen.add(item.id)
            try:
                applied = apply_nodes(table, item.nodes, inputs=context.other_sources, con=sample.con)
            except ProposalError as error:
                log.warning("suggestion %s dropped: its nodes fail on the sample: %s", item.id, error)
                continue
            item.effect = measure(table, applied, sample.con)
            out.append(item)
        out.sort(key=Suggestion.rank_key, reverse=True)
        return out
    finally:
        sample.close()


def proposed_nodes(data: Iterable[Mapping[str, Any]]) -> list[ProposedNode]:
    nodes = []
    for raw in data:
        nodes.append(
            ProposedNode(
                module=str(raw.get("module", "")),
                config=dict(raw.get("config") or {}),
                label=str(raw.get("label") or raw.get("module", "")),
                input_port=raw.get("input_port"),
                extra_inputs=dict(raw.get("extra_inputs") or {}),
            )
        )
    return nodes


def check_suggestion(
    table: pa.Table,
    suggestion: Mapping[str, Any],
    *,
    node_id: str = "node",
    inputs: Mapping[str, pa.Table] | None = None,
) -> str | None:
    """``None`` when the suggestion's nodes still fit the node's output, else the reason (for a 422).

    Fits means: every column it names is still there, and every proposed node validates and runs over
    the current sample.
    """
    present = list(table.column_names)
    missing = [c for c in suggestion.get("columns") or [] if c not in present]
    if missing:
        return (
            f"the suggestion no longer fits node {node_id!r}: column(s) {', '.join(map(repr, missing))} are "
            f"not in its output any more (columns now: {', '.join(present) or 'none'}); "
            "ask for suggestions again"
        )
    nodes = proposed_nodes(suggestion.get("nodes") or [])
    if not nodes:
        return "the suggestion has no nodes to insert"
    try:
        for node in nodes:
            validate_node(node)
        apply_nodes(table, nodes, inputs=dict(inputs or {}))
    except ProposalError as error:
        return f"the suggestion no longer fits node {node_id!r}: {error}; ask for suggestions again"
    return None
