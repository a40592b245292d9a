"""spec.row_keys: a quality check names failing rows by the pipeline's keys where the pipeline has them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_logidata.spec import validate_pipeline
from airflow_provider_logidata.spec.row_keys import example_keys

CHECKS = [{"type": "not_null", "column": "email"}]


def node(node_id: str, module: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "module": module, "config": config}


SOURCE = node("src", "source.file", path="/data/in.csv")
CHECK = node("qc", "quality_check", checks=CHECKS)
MERGE = node("dst", "destination.postgres", conn_id="pg", table="t", mode="merge", keys=["order_id"])
APPEND = node("dst", "destination.postgres", conn_id="pg", table="t")
DEDUPE = node("dedupe", "deduplicate", columns=["customer_id", "day"])


def keys_of(*nodes: dict[str, Any], edges: list[tuple[str, str]] | None = None) -> dict[str, list[str]]:
    pairs = edges if edges is not None else [(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
    spec = {"id": "p", "nodes": list(nodes), "edges": [{"source": s, "target": t} for s, t in pairs]}
    result = validate_pipeline(spec)
    assert not result.issues, [issue.message for issue in result.issues]
    assert result.pipeline is not None
    return example_keys(enumerate(result.pipeline.nodes), enumerate(result.pipeline.edges), result.configs)


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        pytest.param([SOURCE, CHECK, MERGE], ["order_id"], id="merge-keys"),
        pytest.param(
            [SOURCE, CHECK, node("f", "filter_rows", condition="amount > 0"), MERGE],
            ["order_id"],
            id="merge-keys-through-filter",
        ),
        pytest.param([SOURCE, DEDUPE, CHECK, APPEND], ["customer_id", "day"], id="deduplicate-columns"),
        pytest.param([SOURCE, DEDUPE, CHECK, MERGE], ["order_id"], id="merge-keys-before-deduplicate"),
        pytest.param([SOURCE, CHECK, APPEND], None, id="append-has-no-keys"),
        pytest.param(
            [SOURCE, node("dedupe", "deduplicate"), CHECK, APPEND], None, id="deduplicate-on-all-columns"
        ),
        pytest.param(
            [
                SOURCE,
                CHECK,
                node("d", "derive_column", columns=[{"name": "order_id", "expression": "a || b"}]),
                MERGE,
            ],
            None,
            id="key-made-after-the-check",
        ),
        pytest.param(
            [
                SOURCE,
                CHECK,
                node("s", "select_columns", columns=[{"name": "id", "rename": "order_id"}]),
                MERGE,
            ],
            None,
            id="key-renamed-after-the-check",
        ),
        pytest.param(
            [SOURCE, CHECK, node("a", "aggregate", group_by=["order_id"], aggregations=[]), MERGE],
            None,
            id="not-row-wise",
        ),
        pytest.param(
            [SOURCE, node("qc", "quality_check", checks=CHECKS, keys=["id"]), MERGE],
            None,
            id="own-keys-win",
        ),
    ],
)
def test_keys_the_pipeline_gives_a_check(nodes: list[dict[str, Any]], expected: list[str] | None) -> None:
    found = keys_of(*nodes)
    assert found.get("qc") == expected


# --- wiring: a run and a preview of the check use the same keys -------------------------------------------

WIRED = {
    "id": "keyed",
    "nodes": [
        node("src", "source.file", path="/data/in.csv"),
        node("dedupe", "deduplicate", columns=["order_id"]),
        node("qc", "quality_check", checks=CHECKS),
        node("dst", "destination.file", path="/data/out.parquet"),
    ],
    "edges": [
        {"source": "src", "target": "dedupe"},
        {"source": "dedupe", "target": "qc"},
        {"source": "qc", "target": "dst"},
    ],
}


def test_the_dag_gives_the_check_its_keys() -> None:
    from airflow_provider_logidata.dag_factory import build_dag

    result = validate_pipeline({**WIRED, "fuse_chains": True})  # quality_check runs as its own task
    assert result.pipeline is not None
    dag = build_dag(result.pipeline, configs=result.configs)
    assert dag.get_task("qc").config["keys"] == ["order_id"]
    assert result.configs["qc"].keys is None  # the validated config is not changed in place
    assert "keys" not in WIRED["nodes"][2]["config"]  # nor the stored pipeline


def test_the_preview_gives_the_check_its_keys() -> None:
    from airflow_provider_logidata.preview.plan import plan_preview

    plan = plan_preview(WIRED, "qc")
    assert {n.id: n.config.get("keys") for n in plan.nodes}["qc"] == ["order_id"]
