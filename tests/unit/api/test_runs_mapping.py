"""Node → task mapping and per-node rows/seconds, from the factory's planning and the run's XComs."""

from __future__ import annotations

import itertools
from typing import Any

from airflow_provider_logidata.api.runs import (
    NodeTask,
    TaskResult,
    collect_tasks,
    node_runs,
    plan_node_tasks,
)


def _node(nid: str, module: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": nid, "module": module, "config": config}


def _chain(*ids: str) -> list[dict[str, str]]:
    return [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]


FILE_PIPELINE: dict[str, Any] = {
    "id": "p",
    "fuse_chains": True,
    "nodes": [
        _node("read", "source.file", {"path": "/in.csv"}),
        _node("dedupe", "deduplicate", {}),
        _node("keep", "filter_rows", {"condition": "a > 0"}),
        _node("write", "destination.file", {"path": "/out.parquet"}),
    ],
    "edges": _chain("read", "dedupe", "keep", "write"),
}

PG = {"conn_id": "warehouse"}
ELT_PIPELINE: dict[str, Any] = {
    "id": "e",
    "nodes": [
        _node("src", "source.postgres", {**PG, "table": "orders"}),
        _node("keep", "filter_rows", {"condition": "a > 0"}),
        _node("dst", "destination.postgres", {**PG, "table": "orders_clean"}),
    ],
    "edges": _chain("src", "keep", "dst"),
}


def test_fused_chain_maps_to_its_last_node() -> None:
    mapping = plan_node_tasks(FILE_PIPELINE)
    assert mapping["read"] == NodeTask("read", "etl", 1)
    assert mapping["dedupe"] == mapping["keep"] == NodeTask("keep", "etl", 2)
    assert mapping["write"].task_id == "write"


def test_elt_path_is_one_task() -> None:
    mapping = plan_node_tasks(ELT_PIPELINE)
    assert {n: (t.task_id, t.engine) for n, t in mapping.items()} == {
        "src": ("dst", "elt"),
        "keep": ("dst", "elt"),
        "dst": ("dst", "elt"),
    }


def test_invalid_pipeline_maps_each_node_to_itself() -> None:
    data = {**FILE_PIPELINE, "nodes": [*FILE_PIPELINE["nodes"], _node("gone", "removed.module", {})]}
    mapping = plan_node_tasks(data)
    assert mapping["gone"] == NodeTask("gone", None)
    assert mapping["keep"] == NodeTask("keep", None)


def test_metrics_xcom_gives_rows_per_fused_step() -> None:
    mapping = plan_node_tasks(FILE_PIPELINE)
    metrics = {
        "nodes": {
            "dedupe": {"module": "deduplicate", "rows_in": 10, "rows_out": 8, "seconds": 0.5},
            "keep": {"module": "filter_rows", "rows_in": 8, "rows_out": 5, "seconds": 0.25},
        }
    }
    tasks = {
        "read": TaskResult("success", 1.0, {"return_value": {"rows": 10}}),
        "keep": TaskResult("success", 2.0, {"logidata_metrics": metrics, "return_value": {"rows": 5}}),
        "write": TaskResult("running", None, {}),
    }
    runs = node_runs(FILE_PIPELINE, mapping, tasks)
    assert (runs["dedupe"].task_id, runs["dedupe"].state) == ("keep", "success")
    assert (runs["dedupe"].rows_in, runs["dedupe"].rows_out, runs["dedupe"].seconds) == (10, 8, 0.5)
    assert (runs["keep"].rows_in, runs["keep"].rows_out) == (8, 5)
    # No metrics: the handle's rows and the task's duration.
    assert (runs["read"].rows_in, runs["read"].rows_out, runs["read"].seconds) == (None, 10, 1.0)
    assert (runs["write"].state, runs["write"].rows_in, runs["write"].rows_out) == ("running", 5, None)


def test_fallback_without_metrics_inside_a_fused_chain() -> None:
    mapping = plan_node_tasks(FILE_PIPELINE)
    tasks = {
        "read": TaskResult("success", 1.0, {"return_value": {"rows": 10}}),
        "keep": TaskResult("success", 2.0, {"return_value": {"rows": 5}}),
    }
    runs = node_runs(FILE_PIPELINE, mapping, tasks)
    assert (runs["dedupe"].rows_in, runs["dedupe"].rows_out, runs["dedupe"].seconds) == (10, None, None)
    assert (runs["keep"].rows_in, runs["keep"].rows_out, runs["keep"].seconds) == (None, 5, None)
    assert runs["write"].state is None  # not started


def test_named_output_ports_count_their_own_rows() -> None:
    data = {
        "id": "r",
        "nodes": [
            _node("read", "source.file", {"path": "/in.csv"}),
            _node("split", "route", {"condition": "a > 0"}),
            _node("no", "destination.file", {"path": "/no.parquet"}),
        ],
        "edges": [
            {"source": "read", "target": "split"},
            {"source": "split", "target": "no", "source_port": "unmatched"},
        ],
    }
    tasks = {
        "split": TaskResult(
            "success",
            1.0,
            {
                "return_value": {"rows": 7},
                "output__matched": {"rows": 7},
                "output__unmatched": {"rows": 3},
            },
        )
    }
    runs = node_runs(data, plan_node_tasks(data), tasks)
    assert runs["no"].rows_in == 3


def test_a_regrouped_pipeline_falls_back_to_the_node_named_task() -> None:
    """The run predates fuse_chains: its tasks are named after every node."""
    mapping = plan_node_tasks(FILE_PIPELINE)
    tasks = {"dedupe": TaskResult("failed", 3.0, {})}
    runs = node_runs(FILE_PIPELINE, mapping, tasks)
    assert (runs["dedupe"].task_id, runs["dedupe"].state, runs["dedupe"].seconds) == ("dedupe", "failed", 3.0)


class _Row:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def test_collect_tasks_computes_seconds_from_dates() -> None:
    import datetime as dt

    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    rows = [
        _Row(
            run_id="r1",
            task_id="a",
            state="success",
            start_date=start,
            end_date=start + dt.timedelta(seconds=2),
            duration=None,
        ),
        _Row(run_id="r1", task_id="b", state=None, start_date=None, end_date=None, duration=None),
    ]
    tasks = collect_tasks(rows, [("r1", "a", "return_value", {"rows": 1}), ("r2", "x", "k", 1)])
    assert tasks["r1"]["a"].seconds == 2.0 and tasks["r1"]["a"].xcoms == {"return_value": {"rows": 1}}
    assert tasks["r1"]["b"].state is None
    assert tasks["r2"]["x"].xcoms == {"k": 1}
