"""Cleaning suggestions for a node's output sample: rules that detect a defect with evidence in numbers,
propose the node(s) that fix it (configs valid against the module models) and measure the effect by
running those nodes over the sample in DuckDB.

Entry points: :func:`suggest` (rank every rule's findings) and :func:`check_suggestion` (does a
suggestion still fit the node's current output). Rules live in ``suggest.rules`` and register
themselves in ``suggest.registry``.
"""

from __future__ import annotations

from airflow_provider_logidata.suggest.engine import check_suggestion, suggest
from airflow_provider_logidata.suggest.model import Effect, PipelineContext, ProposedNode, Suggestion

__all__ = ["Effect", "PipelineContext", "ProposedNode", "Suggestion", "check_suggestion", "suggest"]
