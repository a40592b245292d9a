"""Spelling variants of one value → ``map_values`` to the most frequent spelling (see ``suggest.cluster``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.suggest.cluster import MAX_DISTINCT, cluster_values
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, pct, quote_ident
from airflow_provider_logidata.suggest.rules.text import CATEGORY_MAX_RATIO, normalised
from airflow_provider_logidata.suggest.sample import SAMPLE, looks_like_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

MAX_MAPPING = 10_000


@register_rule("spelling_variants", "One value spelt several ways")
def spelling_variants(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.text_columns():
        non_null, distinct = sample.non_null(name), sample.distinct(name)
        if looks_like_key(name) or distinct < 2 or distinct > MAX_DISTINCT:
            continue
        if distinct > CATEGORY_MAX_RATIO * non_null:
            continue
        column = quote_ident(name)
        rows = sample.query(
            f"SELECT {column}, lower({normalised(name)}), count(*) FROM {SAMPLE} WHERE {column} IS NOT NULL "
            f"GROUP BY ALL ORDER BY count(*) DESC, {column}"
        )
        forms: dict[str, int] = {}
        raw_by_form: dict[str, list[tuple[str, int]]] = {}
        for raw, form, n in rows:
            forms[form] = forms.get(form, 0) + int(n)
            raw_by_form.setdefault(form, []).append((raw, int(n)))
        clusters = cluster_values(forms, sample.con)
        if not clusters:
            continue
        mapping: dict[str, str] = {}
        methods: set[str] = set()
        affected = 0
        shown: list[str] = []
        for cluster in clusters:
            target = raw_by_form[cluster.canonical][0][0]  # most frequent raw spelling of the canonical form
            for form in cluster.members:
                for raw, n in raw_by_form[form]:
                    if raw != target:
                        mapping[raw] = target
                        affected += n
            methods |= cluster.methods
            if len(shown) < 3:
                variants = ", ".join(
                    f"{raw_by_form[f][0][0]!r} x{n}" for f, n in list(cluster.members.items())[:3]
                )
                shown.append(f"{target!r} x{forms[cluster.canonical]} ← {variants}")
        if not mapping or len(mapping) > MAX_MAPPING:
            continue
        distance_only = methods == {"edit distance"}
        confidence = clamp(0.65 if distance_only else 0.85 if "edit distance" not in methods else 0.75)
        yield Suggestion(
            id=suggestion_id("spelling_variants", [name], sorted(mapping.items())),
            rule="spelling_variants",
            title=f"Unify {len(mapping)} spelling variant(s) in {name}",
            evidence=f"{count(affected)} of {count(non_null)} values of {name} "
            f"({pct(affected, non_null)}) are "
            f"variants of a more frequent spelling: {'; '.join(shown)}",
            confidence=confidence,
            confidence_reason="found by "
            + ", ".join(sorted(methods))
            + "; each variant maps to its cluster's "
            "most frequent spelling"
            + (
                " — edit distance alone can join distinct values, review the mapping" if distance_only else ""
            ),
            severity="medium",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="map_values",
                    config={"column": name, "mapping": mapping, "default": "keep"},
                    label=f"Unify spellings of {name}",
                )
            ],
            share=affected / max(1, sample.rows),
        )
