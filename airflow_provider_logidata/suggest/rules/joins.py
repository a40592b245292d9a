"""Two sources with a likely join key (matching names and overlapping values) → ``join``.

Looks at the pipeline: the samples of source nodes that are not upstream of the selected node. A pair
of columns qualifies when the names match (equal once normalised, or ``<source>_id`` against ``id``)
and the types are comparable; it is proposed when the other side is (nearly) unique on it, so the join
does not multiply rows, and enough of the values meet (containment either way, since both are samples).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, pct

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

MIN_CONTAINMENT = 0.3
MIN_UNIQUE = 0.9
_NORM = re.compile(r"[^a-z0-9]+")


def _norm(name: str) -> str:
    return _NORM.sub("", name.lower())


def _singular(word: str) -> str:
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") else word


def name_match(ours: str, theirs: str, other_names: list[str]) -> bool:
    a, b = _norm(ours), _norm(theirs)
    if a == b and a:
        return True
    for other in other_names:
        stem = _singular(_norm(other))
        if not stem:
            continue
        if b == "id" and a in (f"{stem}id", f"id{stem}"):
            return True
    return False


def _family(t: pa.DataType) -> str | None:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    return None


def _distinct(column: pa.ChunkedArray) -> pa.Array:
    return pc.unique(column.drop_null())


@register_rule("join_key", "Another source of the pipeline shares a key with this data")
def join_key(sample: SampleContext) -> Iterator[Suggestion]:
    pipeline = sample.pipeline
    ours = sample.table
    for other_id, other in pipeline.other_sources.items():
        names = [other_id, pipeline.node_labels.get(other_id, other_id)]
        best: tuple[float, str, str, float, float] | None = None
        for a in ours.column_names:
            fa = _family(ours.schema.field(a).type)
            if fa is None:
                continue
            for b in other.column_names:
                if _family(other.schema.field(b).type) != fa or not name_match(a, b, names):
                    continue
                left, right = _distinct(ours[a]), _distinct(other[b])
                if not len(left) or not len(right):
                    continue
                unique = len(right) / max(1, other[b].length() - other[b].null_count)
                if unique < MIN_UNIQUE:
                    continue
                common = len(pc.filter(left, pc.is_in(left, value_set=right)))
                contained = max(common / len(left), common / len(right))
                if contained < MIN_CONTAINMENT:
                    continue
                score = contained + (0.1 if a == b else 0.0)
                if best is None or score > best[0]:
                    best = (score, a, b, common / len(left), unique)
        if best is None:
            continue
        _, a, b, matched, unique = best
        config: dict[str, object] = {"how": "left"}
        if a == b:
            config["on"] = [a]
        else:
            config["left_on"], config["right_on"] = [a], [b]
        yield Suggestion(
            id=suggestion_id("join_key", [a], other_id, b),
            rule="join_key",
            title=f"Join {other_id!r} on {a}" + (f" = {b}" if a != b else ""),
            evidence=f"{pct(matched * 100, 100)} of the distinct {a} values here "
            f"are {b} values of {other_id!r}, "
            f"where {b} is {unique:.0%} unique (sampled)",
            confidence=clamp(0.4 + 0.5 * min(1.0, matched)),
            confidence_reason=f"names match ({a} ~ {b}) and values overlap; a left join keeps every row here",
            severity="low",
            columns=[a],
            nodes=[
                ProposedNode(
                    module="join",
                    config=config,
                    label=f"Join {other_id}",
                    input_port="left",
                    extra_inputs={"right": other_id},
                )
            ],
            share=matched,
        )
