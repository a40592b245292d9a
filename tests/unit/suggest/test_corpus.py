"""The suggestion rules on a seeded corpus: every injected defect is found (recall 100%) with the fix the
rule's policy prescribes, clean data gives at most one low-confidence suggestion, and applying a
suggestion makes it disappear."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CASES, CONTROLS, Case, Expect

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.suggest import PipelineContext, Suggestion, suggest
from airflow_provider_logidata.suggest.effect import apply_nodes

LOW_CONFIDENCE = 0.65
JUNK = ("unknown", "n/a")  # markers the corpus injects: the only values a fix may turn into nulls


def _context(case: Case, **changes: Any) -> PipelineContext:
    context = PipelineContext(
        node_id="orders", other_sources=dict(case.other_sources), downstream_keys=dict(case.downstream_keys)
    )
    for key, value in changes.items():
        setattr(context, key, value)
    return context


def _matching(found: list[Suggestion], case: Case) -> list[Suggestion]:
    return [s for s in found if s.rule == case.rule and set(case.columns) <= set(s.columns)]


def _mismatches(hit: Suggestion, expect: Expect) -> list[str]:
    """Why ``hit`` is not the fix ``expect`` describes (empty: it is)."""
    node = hit.nodes[-1]
    wrong = []
    if node.module != expect.module:
        return [f"module {node.module!r}, expected {expect.module!r}"]
    for key, value in expect.config.items():
        if node.config.get(key) != value:
            wrong.append(f"{key}={node.config.get(key)!r}, expected {value!r}")
    entries = {e["name"]: e for e in node.config.get("columns", []) if isinstance(e, dict)}
    for column, to in expect.casts.items():
        if entries.get(column, {}).get("cast") != to:
            wrong.append(f"cast of {column}: {entries.get(column)!r}, expected {to!r}")
    for column, new in expect.renames.items():
        if entries.get(column, {}).get("rename") != new:
            wrong.append(f"rename of {column}: {entries.get(column)!r}, expected {new!r}")
    for column in expect.dropped:
        if column in entries:
            wrong.append(f"{column} still selected")
    if expect.dropped and (node.config.get("keep_other_columns") or not entries):
        wrong.append("select_columns keeps other columns, so nothing is dropped")
    if expect.methods:
        methods = hit.confidence_reason.removeprefix("found by ").split(";")[0]
        if methods != ", ".join(sorted(expect.methods)):
            wrong.append(f"found by {methods!r}, expected {sorted(expect.methods)}")
    return wrong


def _nulls(table: pa.Table, column: str) -> int:
    values = table.column(column)
    nulls = values.null_count
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        nulls += pc.sum(pc.is_in(pc.utf8_trim_whitespace(values), pa.array(JUNK))).as_py() or 0
    return int(nulls)


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
        if case.expect is not None:
            wrong = _mismatches(hit, case.expect)
            assert not wrong, f"{case.name} at {case.share:g}: {hit.id} proposes the wrong fix: {wrong}"
        for node in hit.nodes:  # every proposed config is valid for its module
            registry()[node.module].config_model.model_validate(node.config)
        applied = apply_nodes(table, hit.nodes, inputs=case.other_sources)
        for column in case.expect.no_new_nulls if case.expect else ():
            before, after_nulls = _nulls(table, column), applied.table.column(column).null_count
            assert after_nulls == before, (
                f"{column}: {before} missing or junk before, {after_nulls} nulls after"
            )
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


def test_null_check_catches_a_wrong_date_format() -> None:
    """The no-new-nulls guard has teeth: month-first on day-first data nulls every day above 12."""
    case = next(c for c in CASES if c.name == "dates_as_text" and c.share == 0.0)
    table = case.build()
    hit = _matching(suggest(table, pipeline=_context(case)), case)[0]
    wrong = replace(
        hit.nodes[-1], config={**hit.nodes[-1].config, "formats": ["%m/%d/%Y"], "on_error": "null"}
    )
    applied = apply_nodes(table, [wrong])
    assert applied.table.column("order_date").null_count > _nulls(table, "order_date")
