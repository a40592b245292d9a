"""Family operators' execute() with a minimal task instance: XCom per output port, staging layout, refs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from airflow.sdk import DAG, BaseOperator

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.operators.base import LogiDataMultiOutputOperator
from airflow_provider_logidata.operators.destinations import FileDestinationOperator
from airflow_provider_logidata.operators.sources import FileSourceOperator
from airflow_provider_logidata.operators.transforms import (
    JoinOperator,
    QualityCheckOperator,
    RouteOperator,
    SortOperator,
    SqlOperator,
)

RUN_ID = "manual__2024-05-06T00:00:00+00:00"


class FakeTI:
    """XCom by (task id, key), as Airflow stores it."""

    map_index = -1

    def __init__(self, store: dict[tuple[str, str], Any], task_id: str = "") -> None:
        self.store = store
        self.task_id = task_id

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.store.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.store[(self.task_id, key)] = json.loads(json.dumps(value))


def run(op: BaseOperator, store: dict[tuple[str, str], Any]) -> Any:
    result = op.execute({"ti": FakeTI(store, op.task_id), "run_id": RUN_ID})  # type: ignore[arg-type]
    store[(op.task_id, "return_value")] = json.loads(json.dumps(result))
    return result


def test_family_operators_match_the_registry() -> None:
    for name in (
        "join",
        "aggregate",
        "sort",
        "union",
        "derive_column",
        "map_values",
        "sql",
        "python",
        "route",
        "quality_check",
    ):
        module = registry()[name]
        cls = module.operator_class()
        assert cls.module_name == name and cls.config_model is module.config_model
        assert issubclass(cls, LogiDataMultiOutputOperator) == (
            len(module.outputs) > 1 or module.max_inputs != 1
        ), name
    assert registry()["join"].input_ports == ("left", "right")
    assert registry()["route"].outputs == ("matched", "unmatched")
    assert registry()["quality_check"].outputs == ("out", "rejected")
    assert registry()["union"].max_inputs is None and registry()["sql"].max_inputs is None


def test_route_pushes_every_port_and_downstream_reads_task_colon_port(tmp_path: Path) -> None:
    staging_root = Path(__import__("os").environ["AIRFLOW__LOGIDATA__STAGING_PATH"])
    src = tmp_path / "in.csv"
    src.write_text("id,weight\n1,12\n2,\n3,3\n4,20\n")
    with DAG("family_ops", schedule=None):
        read = FileSourceOperator(task_id="read", config={"path": str(src)})
        split = RouteOperator(task_id="split", config={"condition": "weight > 10"}, inputs=["read"])
        heavy_first = SortOperator(
            task_id="heavy_first", config={"by": [{"column": "weight", "descending": True}]}, inputs=["split"]
        )
        rest = FileDestinationOperator(
            task_id="rest", config={"path": str(tmp_path / "rest.parquet")}, inputs=["split:unmatched"]
        )
    store: dict[tuple[str, str], Any] = {}
    run(read, store)
    returned = run(split, store)
    matched, unmatched = store[("split", "output__matched")], store[("split", "output__unmatched")]
    assert returned == matched  # the first port is also the return value
    run_dir = staging_root / "family_ops"
    assert Path(matched["uri"]).relative_to(run_dir).parts[1:] == ("split", "matched", "part-00000.parquet")
    assert Path(unmatched["uri"]).relative_to(run_dir).parts[1:] == (
        "split",
        "unmatched",
        "part-00000.parquet",
    )
    assert (matched["rows"], unmatched["rows"]) == (2, 2)
    sorted_handle = run(heavy_first, store)
    assert pq.read_table(sorted_handle["uri"]).column("id").to_pylist() == [4, 1]
    assert run(rest, store)["rows"] == 2
    assert pq.read_table(tmp_path / "rest.parquet").column("id").to_pylist() == [2, 3]


def test_join_and_sql_operators_read_inputs_in_order(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    (tmp_path / "o.csv").write_text("id,amount\n2,10\n2,5\n3,7\n")
    with DAG("family_join", schedule=None):
        customers = FileSourceOperator(task_id="customers", config={"path": str(tmp_path / "c.csv")})
        orders = FileSourceOperator(task_id="orders", config={"path": str(tmp_path / "o.csv")})
        joined = JoinOperator(
            task_id="joined", config={"on": ["id"], "how": "left"}, inputs=[customers, orders]
        )
        query = SqlOperator(
            task_id="query",
            config={"query": "SELECT name, sum(amount) AS total FROM joined GROUP BY name ORDER BY name"},
            inputs=["joined"],
        )
        checked = QualityCheckOperator(
            task_id="checked",
            config={"checks": [{"type": "not_null", "column": "total"}], "action": "quarantine"},
            inputs=["query"],
        )
    assert joined.upstream_task_ids == {"customers", "orders"}
    store: dict[tuple[str, str], Any] = {}
    for op in (customers, orders, joined, query, checked):
        run(op, store)
    staged = store[("joined", "return_value")]
    # A single output keeps the plain layout <task>/part-00000.parquet.
    assert Path(staged["uri"]).parts[-2:] == ("joined", "part-00000.parquet")
    assert pq.read_table(staged["uri"]).to_pylist() == [
        {"id": 1, "name": "Ann", "amount": None},
        {"id": 2, "name": "Bob", "amount": 10},
        {"id": 2, "name": "Bob", "amount": 5},
    ]
    assert pq.read_table(store[("checked", "output__out")]["uri"]).to_pylist() == [
        {"name": "Bob", "total": 15}
    ]
    assert pq.read_table(store[("checked", "output__rejected")]["uri"]).to_pylist() == [
        {"name": "Ann", "total": None, "_rejected_reason": "not_null(total)"}
    ]
