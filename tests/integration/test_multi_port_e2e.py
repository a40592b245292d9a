"""Multi-port transforms end to end: stored JSON -> real factory -> `dag.test()` -> exact output files.

Two file sources are joined on named ports (left/right), aggregated, quality-checked with quarantine into
two destinations (out and rejected), and a route's second output (`unmatched`) feeds a destination.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.integration


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    customers = tmp_path / "customers.csv"
    customers.write_text("id,name,country\n1,Ann,FR\n2,Bob,DE\n3,Cat,\n4,Dan,FR\n")
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,amount,status\n"
        "10,1,100.0,shipped\n"
        "11,2,20.0,pending\n"
        "12,1,50.0,shipped\n"
        "13,3,10.0,shipped\n"
        "14,2,-70.0,cancelled\n"
        "15,,5.0,\n"
    )
    return customers, orders


def multi_port_spec(customers: Path, orders: Path, out: Path) -> dict[str, Any]:
    return {
        "id": "multi_port_e2e",
        "nodes": [
            {"id": "read_customers", "module": "source.file", "config": {"path": str(customers)}},
            {"id": "read_orders", "module": "source.file", "config": {"path": str(orders)}},
            {
                "id": "customer_orders",
                "module": "join",
                "config": {"left_on": ["id"], "right_on": ["customer_id"], "how": "left"},
            },
            {
                "id": "by_country",
                "module": "aggregate",
                "config": {
                    "group_by": ["country"],
                    "aggregations": [
                        {"column": "order_id", "function": "count", "as": "orders"},
                        {"column": "amount", "function": "sum", "as": "revenue"},
                    ],
                },
            },
            {
                "id": "checked",
                "module": "quality_check",
                "config": {
                    "checks": [
                        {"type": "not_null", "column": "country"},
                        {"type": "range", "column": "revenue", "min": 0},
                        {"type": "row_count_between", "min": 1},
                    ],
                    "action": "quarantine",
                },
            },
            {"id": "write_ok", "module": "destination.file", "config": {"path": str(out / "ok.parquet")}},
            {
                "id": "write_rejected",
                "module": "destination.file",
                "config": {"path": str(out / "rejected.csv"), "format": "csv"},
            },
            {"id": "split", "module": "route", "config": {"condition": "status = 'shipped'"}},
            {
                "id": "write_unshipped",
                "module": "destination.file",
                "config": {"path": str(out / "unshipped.csv"), "format": "csv"},
            },
        ],
        "edges": [
            # The right input listed first: the factory orders inputs by port, not by edge order.
            {"source": "read_orders", "target": "customer_orders", "target_port": "right"},
            {"source": "read_customers", "target": "customer_orders", "target_port": "left"},
            {"source": "customer_orders", "target": "by_country"},
            {"source": "by_country", "target": "checked"},
            {"source": "checked", "source_port": "out", "target": "write_ok"},
            {"source": "checked", "source_port": "rejected", "target": "write_rejected"},
            {"source": "read_orders", "target": "split"},
            {"source": "split", "source_port": "unmatched", "target": "write_unshipped"},
        ],
    }


def test_join_aggregate_quarantine_and_route(
    run_pipeline: Any, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    dag_run, dag = run_pipeline(multi_port_spec(*inputs, out))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert set(task_states(dag_run).values()) == {"success"}
    assert dag.get_task("customer_orders").inputs == ["read_customers", "read_orders"]
    assert dag.get_task("write_rejected").inputs == ["checked:rejected"]
    assert dag.get_task("write_unshipped").inputs == ["split:unmatched"]

    # FR: Ann's two orders (Dan has none: a left join keeps him, count(order_id) ignores his null).
    ok = pq.read_table(out / "ok.parquet")
    assert ok.to_pylist() == [{"country": "FR", "orders": 2, "revenue": 150.0}]
    assert ok.schema.names == ["country", "orders", "revenue"]

    # DE's revenue is negative; Cat has no country. Groups sorted by key, the null group last.
    assert read_csv(out / "rejected.csv") == [
        {"country": "DE", "orders": "2", "revenue": "-50", "_rejected_reason": "range(revenue)"},
        {"country": "", "orders": "1", "revenue": "10", "_rejected_reason": "not_null(country)"},
    ]

    # Not shipped: pending, cancelled, and the order whose status is null (condition null -> unmatched).
    assert read_csv(out / "unshipped.csv") == [
        {"order_id": "11", "customer_id": "2", "amount": "20", "status": "pending"},
        {"order_id": "14", "customer_id": "2", "amount": "-70", "status": "cancelled"},
        {"order_id": "15", "customer_id": "", "amount": "5", "status": ""},
    ]


def test_failing_quality_check_fails_the_run_and_writes_nothing(
    run_pipeline: Any, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    spec = multi_port_spec(*inputs, out)
    spec["id"] = "multi_port_e2e_fail"
    spec["nodes"][4]["config"]["action"] = "fail"
    dag_run, _ = run_pipeline(spec)
    states = task_states(dag_run)
    assert str(dag_run.state) == "failed"
    assert states["checked"] == "failed"
    assert states["write_ok"] in ("upstream_failed", "None", "none")
    assert states["write_unshipped"] == "success"  # the route branch does not depend on the check
    assert not (out / "ok.parquet").exists() and not (out / "rejected.csv").exists()


def test_check_names_failing_rows_by_the_pipelines_keys(
    run_pipeline: Any, inputs: tuple[Path, Path], tmp_path: Path, capsys: Any, caplog: Any
) -> None:
    """The orders are deduplicated on order_id: a failing order is named by it, in the run's log."""
    _customers, orders = inputs
    spec = {
        "id": "multi_port_e2e_keys",
        "nodes": [
            {"id": "read_orders", "module": "source.file", "config": {"path": str(orders)}},
            {"id": "dedupe", "module": "deduplicate", "config": {"columns": ["order_id"]}},
            {
                "id": "checked",
                "module": "quality_check",
                "config": {"checks": [{"type": "range", "column": "amount", "min": 0}], "action": "warn"},
            },
            {"id": "write", "module": "destination.file", "config": {"path": str(tmp_path / "o.parquet")}},
        ],
        "edges": [
            {"source": "read_orders", "target": "dedupe"},
            {"source": "dedupe", "target": "checked"},
            {"source": "checked", "target": "write"},
        ],
    }
    dag_run, _ = run_pipeline(spec)
    assert str(dag_run.state) == "success", task_states(dag_run)
    logged = capsys.readouterr().out + caplog.text
    assert "range(amount): 1 row(s) fail, e.g. '-70.0' (order_id='14')" in logged
