"""End to end through the real factory and Airflow's `dag.test()`: stored JSON in, files out."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.examples import install_examples

pytestmark = pytest.mark.integration


@pytest.fixture
def examples(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in install_examples(tmp_path / "examples")}


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_orders_cleaning_example(run_pipeline: Any, examples: dict[str, Any], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = examples["example_orders_cleaning"]
    dag_run, dag = run_pipeline(spec)
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert set(task_states(dag_run).values()) == {"success"}

    out = Path(spec["nodes"][-1]["config"]["path"])
    table = pq.read_table(out)
    rows = {r["order_id"]: r for r in table.to_pylist()}
    # 20 input rows, 3 duplicate orders, 1 test order.
    assert table.num_rows == 16
    assert sorted(rows) == [o for o in range(1001, 1018) if o != 1009]
    assert rows[1001]["customer"] == "Alice Martin"
    assert rows[1002]["customer"] == "Bob Smith"
    assert rows[1003]["customer"] == "Carol Dupont"
    assert rows[1008]["customer"] == "Heidi Klum"
    assert rows[1002]["order_date"] == dt.date(2024, 3, 1)  # parsed from 01/03/2024
    assert rows[1001]["order_date"] == dt.date(2024, 3, 1)
    assert rows[1003]["amount"] == 0  # filled
    assert rows[1001]["amount"] == pytest.approx(120.5)
    assert rows[1006]["country"] == "unknown"
    assert rows[1001]["country"] == "FR"
    assert "test" not in {r["status"] for r in rows.values()}
    # Output order follows input order of the kept rows.
    assert table.column("order_id").to_pylist()[:3] == [1001, 1002, 1003]


def test_shipped_orders_csv_example(run_pipeline: Any, examples: dict[str, Any]) -> None:
    import csv

    spec = examples["example_orders_to_csv"]
    dag_run, dag = run_pipeline(spec, logical_date=dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc))
    assert str(dag_run.state) == "success", task_states(dag_run)
    out_dir = Path(spec["nodes"][-1]["config"]["path"]).parent
    out = out_dir / "shipped_orders_20240506.csv"  # {{ ds_nodash }} rendered
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["order_id", "customer", "amount_eur"]
    # 14 shipped rows in the input, duplicates included (no dedupe in this pipeline).
    assert len(rows) == 14
    assert rows[0]["order_id"] == "1001"
    assert rows[0]["customer"].strip() == "Alice Martin"
    assert Decimal(rows[0]["amount_eur"]) == Decimal("120.5")


def test_failed_cast_fails_task_and_writes_nothing(run_pipeline: Any, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,qty\n1,3\n2,three\n3,4\n4,many\n")
    out = tmp_path / "out.parquet"
    spec = {
        "id": "bad_cast",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(src), "infer_types": False}},
            {
                "id": "typed",
                "module": "select_columns",
                "config": {
                    "columns": [{"name": "id", "cast": "integer"}, {"name": "qty", "cast": "integer"}]
                },
            },
            {"id": "write", "module": "destination.file", "config": {"path": str(out)}},
        ],
        "edges": [{"source": "read", "target": "typed"}, {"source": "typed", "target": "write"}],
    }
    dag_run, _ = run_pipeline(spec)
    states = task_states(dag_run)
    assert str(dag_run.state) == "failed"
    assert states["read"] == "success" and states["typed"] == "failed"
    assert states["write"] in ("upstream_failed", "None", "none")
    assert not out.exists()


def test_missing_input_file_fails_with_path(run_pipeline: Any, tmp_path: Path, caplog: Any) -> None:
    missing = tmp_path / "nope" / "orders.csv"
    spec = {
        "id": "missing_input",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(missing)}},
            {"id": "write", "module": "destination.file", "config": {"path": str(tmp_path / "o.parquet")}},
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    dag_run, _ = run_pipeline(spec)
    assert str(dag_run.state) == "failed"
    assert task_states(dag_run)["read"] == "failed"


def test_staging_removed_after_success_kept_after_failure(
    run_pipeline: Any, examples: dict[str, Any], airflow_home: Path, tmp_path: Path
) -> None:
    staging = airflow_home / "staging"
    dag_run, _ = run_pipeline(examples["example_orders_cleaning"])
    assert str(dag_run.state) == "success"
    assert not list((staging / "example_orders_cleaning").rglob("*.parquet"))

    src = tmp_path / "in.csv"
    src.write_text("a\n1\n")
    spec = {
        "id": "keeps_staging",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(src)}},
            {"id": "oops", "module": "filter_rows", "config": {"condition": "missing_col > 1"}},
            {"id": "write", "module": "destination.file", "config": {"path": str(tmp_path / "o.parquet")}},
        ],
        "edges": [{"source": "read", "target": "oops"}, {"source": "oops", "target": "write"}],
    }
    dag_run, _ = run_pipeline(spec)
    assert str(dag_run.state) == "failed"
    kept = list((staging / "keeps_staging").rglob("*.parquet"))
    assert kept, "the failed run's staged data is kept for debugging and retries"
    handle = json.dumps([str(k) for k in kept])
    assert "read" in handle


def test_fused_chain_gives_the_same_output(
    run_pipeline: Any, examples: dict[str, Any], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    spec = examples["example_orders_cleaning"]
    run_pipeline(spec)
    unfused = pq.read_table(spec["nodes"][-1]["config"]["path"])

    fused = json.loads(json.dumps(spec))
    fused["id"] = "example_orders_cleaning_fused"
    fused["fuse_chains"] = True
    fused["nodes"][-1]["config"]["path"] = str(tmp_path / "fused.parquet")
    dag_run, dag = run_pipeline(fused)
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert sorted(dag.task_ids) == ["drop_test_orders", "read_orders", "write_orders"]
    assert pq.read_table(tmp_path / "fused.parquet").equals(unfused)
