"""The suggestion rules on a seeded corpus: every injected defect is found (recall 100%), clean data
gives at most one low-confidence suggestion, and applying a suggestion makes it disappear."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CASES, CONTROLS, Case

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.suggest import PipelineContext, Suggestion, suggest
from airflow_provider_logidata.suggest.effect import apply_nodes

LOW_CONFIDENCE = 0.65


def _context(case: Case, **changes: Any) -> PipelineContext:
    context = PipelineContext(
        node_id="orders", other_sources=dict(case.other_sources), downstream_keys=dict(case.downstream_keys)
    )
    for key, value in changes.items():
        setattr(context, key, value)
    return context


def _matching(found: list[Suggestion], case: Case) -> list[Suggestion]:
    return [s for s in found if s.rule == case.rule and set(case.columns) <= set(s.columns)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{c.share:g}" for c in CASES])
def test_defect_is_found_and_applying_fixes_it(case: Case) -> None:
    table = case.build()
    found = suggest(table, pipeline=_context(case))
    hits = _matching(found, case)
    assert hits, f"{case.name} at {case.share:g} not suggested; got {[(s.id, s.evidence) for s in found]}"
    for hit in hits:
        assert hit.evidence and any(ch.isdigit() for ch in hit.evidence)
        assert 0 < hit.confidence <= 1
        assert hit.effect is not None
        for node in hit.nodes:  # every proposed config is valid for its module
            registry()[node.module].config_model.model_validate(node.config)
        applied = apply_nodes(table, hit.nodes, inputs=case.other_sources)
        last = hit.nodes[-1]
        joined = set(last.extra_inputs.values())
        after = suggest(
            applied.table,
            pipeline=_context(
                case,
                node_module=last.module,
                node_config=last.config,
                other_sources={k: v for k, v in case.other_sources.items() if k not in joined},
            ),
        )
        again = [
            s for s in after if s.id == hit.id or (s.rule == hit.rule and set(s.columns) & set(hit.columns))
        ]
        if not hit.columns:
            again = [s for s in after if s.rule == hit.rule]
        assert not again, f"{hit.id} still suggested after applying it: {[(s.id, s.evidence) for s in again]}"


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_clean_data_gives_at_most_one_low_confidence_suggestion(name: str) -> None:
    found = suggest(CONTROLS[name]())
    assert len(found) <= 1, [(s.id, s.confidence, s.evidence) for s in found]
    for item in found:
        assert item.confidence < LOW_CONFIDENCE, (item.id, item.confidence, item.evidence)


def test_every_rule_family_is_in_the_corpus() -> None:
    from airflow_provider_logidata.suggest.registry import rules

    covered = {case.rule for case in CASES}
    assert set(rules()) <= covered, f"rules without corpus cases: {set(rules()) - covered}"
