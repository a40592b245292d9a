"""Request and response shapes of the suggestion routes (``/suggest``, ``/suggest/check``, ``/describe``,
``/pipelines/{pipeline_id}/dismissed-suggestions``).

Kept apart from ``api.models`` so the suggestion feature adds its shapes without touching the others;
same conventions (strict requests, always-present response fields).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_provider_logidata.api.models import Issue, PipelineDoc, _Request, _Response
from airflow_provider_logidata.store.dismissed import MAX_DISMISSED, MAX_SUGGESTION_ID_LENGTH


class ProposedNode(_Response):
    module: str
    config: dict[str, Any] = Field(description="Valid against the module's config schema.")
    label: str
    input_port: str | None = Field(
        None,
        description="Input of this node fed by the selected node (a join's 'left'); null: its only input.",
    )
    extra_inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Other inputs of this node: port -> existing node id (a join's 'right').",
    )


class ProposedNodeIn(_Request):
    module: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    input_port: str | None = None
    extra_inputs: dict[str, str] = Field(default_factory=dict)


class Effect(_Response):
    rows_before: int
    rows_after: int
    cells_changed: int
    summary: str
    columns_before: list[str]
    columns_after: list[str]
    examples: list[dict[str, Any]] = Field(description="Up to 5 changed cells: {column, before, after}.")


class Suggestion(_Response):
    id: str = Field(description="Stable for the same rule, columns and values: use it to dismiss.")
    rule: str
    title: str
    evidence: str
    confidence: float = Field(ge=0, le=1)
    confidence_reason: str
    severity: Literal["low", "medium", "high"]
    columns: list[str]
    nodes: list[ProposedNode] = Field(description="To insert after the node, in order.")
    effect: Effect | None


class SuggestBody(_Request):
    pipeline: PipelineDoc
    node_id: str = Field(min_length=1, max_length=200)
    sample_rows: int = Field(10_000, ge=100, le=100_000)
    dismissed: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Suggestion ids to leave out, besides those stored for the saved pipeline with this id.",
    )


class SuggestionList(_Response):
    node_id: str
    sample_rows: int
    elapsed_ms: float
    suggestions: list[Suggestion]


class SuggestionIn(_Request):
    """A suggestion as the UI got it (extra fields of newer servers are ignored, not refused)."""

    model_config = {"extra": "ignore"}

    id: str = ""
    rule: str = ""
    columns: list[str] = Field(default_factory=list)
    nodes: list[ProposedNodeIn] = Field(min_length=1)


class CheckBody(_Request):
    pipeline: PipelineDoc
    node_id: str = Field(min_length=1, max_length=200)
    suggestion: SuggestionIn


class CheckResult(_Response):
    ok: bool


class DescribeBody(_Request):
    pipeline: PipelineDoc
    node_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=2000)


class DescribeResult(_Response):
    nodes: list[ProposedNode] = Field(
        description="Valid nodes to insert after the node; empty when any was invalid."
    )
    errors: list[Issue] = Field(description="Why the model's proposal cannot be applied.")
    explanation: str


class DismissBody(_Request):
    id: str = Field(
        min_length=1,
        max_length=MAX_SUGGESTION_ID_LENGTH,
        description="A suggestion's id, as /suggest answered it.",
    )


class DismissedSuggestions(_Response):
    ids: list[str] = Field(
        description=(
            f"Dismissed suggestion ids, oldest first; at most {MAX_DISMISSED} (past that the oldest are "
            "forgotten)."
        )
    )
