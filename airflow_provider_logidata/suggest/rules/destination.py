"""Before a destination that merges on keys → ``quality_check`` not_null (and unique) on those keys.

A merge on keys with a null key inserts a row no later merge can match, and duplicate keys make the
result depend on row order ("the last one wins"); checking just before the load names the bad rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import count, quote_ident
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext


def _already_checked(sample: SampleContext, keys: list[str]) -> bool:
    pipeline = sample.pipeline
    guarded = set(pipeline.guarded_keys)
    if pipeline.node_module == "quality_check":
        guarded |= {
            c.get("column") for c in pipeline.node_config.get("checks", []) if c.get("type") == "not_null"
        }
    return all(key in guarded for key in keys)


@register_rule("destination_keys", "Keys of a destination downstream are not checked")
def destination_keys(sample: SampleContext) -> Iterator[Suggestion]:
    present = set(sample.table.column_names)
    for destination, keys in sample.pipeline.downstream_keys.items():
        keys = [k for k in keys if k in present]
        if not keys or _already_checked(sample, keys):
            continue
        checks: list[dict[str, Any]] = [{"type": "not_null", "column": k} for k in keys]
        missing = sum(
            int(sample.value(f"SELECT count(*) FROM {SAMPLE} WHERE {quote_ident(k)} IS NULL")) for k in keys
        )
        repeated = 0
        if len(keys) == 1:
            checks.append({"type": "unique", "column": keys[0]})
            c = quote_ident(keys[0])
            repeated = int(sample.value(f"SELECT count({c}) - count(DISTINCT {c}) FROM {SAMPLE}"))
        bad = missing + repeated
        action = "quarantine" if bad else "fail"
        evidence = (
            f"{destination!r} merges on {', '.join(keys)}; "
            f"in the sample {count(missing)} row(s) have a null key"
            + (f" and {count(repeated)} repeat a key" if len(keys) == 1 else "")
        )
        yield Suggestion(
            id=suggestion_id("destination_keys", keys, destination),
            rule="destination_keys",
            title=f"Check {', '.join(keys)} before loading {destination!r}",
            evidence=evidence,
            confidence=0.9 if bad else 0.6,
            confidence_reason=(
                "the sample already breaks the keys"
                if bad
                else "a guard: the sample is clean, later loads may not be"
            )
            + "; unique is checked only for a single key column",
            severity="high" if bad else "medium",
            columns=keys,
            nodes=[
                ProposedNode(
                    module="quality_check",
                    config={"checks": checks, "action": action},
                    label=f"Check keys of {destination}",
                )
            ],
            share=bad / max(1, sample.rows),
        )
