"""A module pack's transform works in suggestions like a built-in one (the example pack under tests/packs).

A described step (the LLM's proposal) may name any one-input transform of the registry; its effect is
measured with the module's own DuckDB builder, as for built-in modules.
"""

from __future__ import annotations

import pyarrow as pa

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.suggest.effect import apply_nodes, measure
from airflow_provider_logidata.suggest.llm import step_modules
from airflow_provider_logidata.suggest.model import ProposedNode


def test_pack_transform_is_offered_and_applied_on_the_sample() -> None:
    assert registry()["mask_text"].pack == "logidata-example-pack"
    assert "mask_text" in {module.name for module in step_modules()}
    before = pa.table({"card": ["4111111111111111", None, "12"], "n": [1, 2, 3]})
    node = ProposedNode("mask_text", {"columns": ["card"], "keep_last": 4}, "Mask card")
    applied = apply_nodes(before, [node])
    assert applied.table.column("card").to_pylist() == ["************1111", None, "12"]
    assert applied.table.column("n").to_pylist() == [1, 2, 3]
    effect = measure(before, applied)
    assert (effect.rows_before, effect.rows_after, effect.cells_changed) == (3, 3, 1)
