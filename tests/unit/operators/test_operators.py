"""Operators: construction-time validation, inputs, templating, import weight, and execute() on real files.

execute() is called directly with a minimal context (a task instance that answers xcom_pull from a dict),
so no Airflow metadata DB is needed; the engine underneath runs for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.sdk import DAG, BaseOperator
from pydantic import ValidationError

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.examples import DATA_DIR
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.modules.sources.file import CsvOptions, FileSourceConfig
from airflow_provider_logidata.modules.transforms.filter_rows import FilterRowsConfig
from airflow_provider_logidata.operators.base import LogiDataOperator
from airflow_provider_logidata.operators.destinations import FileDestinationOperator
from airflow_provider_logidata.operators.sources import FileSourceOperator
from airflow_provider_logidata.operators.transforms import (
    CleanTextOperator,
    DeduplicateOperator,
    FilterRowsOperator,
    ParseDatesOperator,
    SelectColumnsOperator,
)


class FakeTI:
    """Just enough of a task instance for execute(): XCom return values by task id."""

    map_index = -1

    def __init__(self, xcoms: dict[str, Any]) -> None:
        self.xcoms = xcoms
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        assert key == "return_value"
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = json.loads(json.dumps(value))  # what XCom would store


PUSHED: dict[str, dict[str, Any]] = {}  # task id -> the XComs its last run() pushed besides its result


def run(op: BaseOperator, xcoms: dict[str, Any], run_id: str = "manual__2024-05-06T00:00:00+00:00") -> Any:
    ti = FakeTI(xcoms)
    result = op.execute({"ti": ti, "run_id": run_id})  # type: ignore[arg-type]
    xcoms[op.task_id] = json.loads(json.dumps(result))  # what XCom would store
    PUSHED[op.task_id] = ti.pushed
    return result


@pytest.fixture(autouse=True)
def _staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    return tmp_path / "staging"


def test_registry_resolves_every_builtin_operator() -> None:
    for module in registry():
        cls = module.operator_class()
        assert issubclass(cls, LogiDataOperator), module.name
        assert cls.module_name == module.name
        assert cls.config_model is module.config_model
        assert cls.template_fields == ("config",)


def test_config_is_validated_and_normalised_at_construction() -> None:
    op = FileSourceOperator(task_id="read", config={"path": "/data/*.csv"})
    assert op.config == {
        "path": "/data/*.csv",
        "format": "auto",
        "csv": {"delimiter": ",", "header": True, "quote": '"', "null_values": [""]},
        "infer_types": True,
        "columns": None,
        "conn_id": None,
    }


def test_config_model_instance_is_dumped_to_json_compatible_dict() -> None:
    config = FileSourceConfig(path="s3://c@b/k.csv", csv=CsvOptions(delimiter=";"))
    op = FileSourceOperator(task_id="read", config=config)
    assert op.config["csv"]["delimiter"] == ";"
    assert json.loads(json.dumps(op.config)) == op.config


@pytest.mark.parametrize(
    ("cls", "config", "field"),
    [
        (FilterRowsOperator, {"condition": ""}, "condition"),
        (FilterRowsOperator, {"condition": "a > 1", "typo": 1}, "typo"),
        (SelectColumnsOperator, {"columns": [{"name": "a"}, {"name": "a"}]}, "appears twice"),
        (FileDestinationOperator, {"path": "/x", "format": "xlsx"}, "format"),
        (DeduplicateOperator, FilterRowsConfig(condition="a > 1"), "condition"),  # wrong model
    ],
)
def test_bad_config_fails_at_construction(cls: type[LogiDataOperator], config: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        cls(task_id="bad_node", config=config)
    assert f"{cls.module_name} node 'bad_node'" in str(info.value)  # the error names the node
    assert field in str(info.value)


def test_inputs_accept_ids_and_operators() -> None:
    with DAG("inputs_dag", schedule=None):
        a = FileSourceOperator(task_id="a", config={"path": "/a.csv"})
        b = FileSourceOperator(task_id="b", config={"path": "/b.csv"})
        t = DeduplicateOperator(task_id="t", config={}, inputs=[b, "a"])
        u = DeduplicateOperator(task_id="u", config={})
        [b, a] >> u
    assert t.inputs == ["b", "a"]
    assert t.upstream_task_ids == {"b"}  # operators passed in are set upstream; ids are the factory's job
    assert t.input_task_ids() == ["b", "a"]
    assert u.inputs is None and u.input_task_ids() == ["a", "b"]  # sorted upstream ids
    with pytest.raises(TypeError, match="list of task ids"):
        DeduplicateOperator(task_id="v", config={}, inputs="a")  # type: ignore[arg-type]


def test_config_strings_are_templated() -> None:
    with DAG("tpl_dag", schedule=None):
        op = FileDestinationOperator(task_id="w", config={"path": "/out/shipped_{{ ds_nodash }}.csv"})
    op.render_template_fields({"ds_nodash": "20240506"})  # type: ignore[arg-type]
    assert op.config["path"] == "/out/shipped_20240506.csv"


def test_operator_modules_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_logidata.operators.base\n"
        "import airflow_provider_logidata.operators.sources\n"
        "import airflow_provider_logidata.operators.transforms\n"
        "import airflow_provider_logidata.operators.destinations\n"
        "import airflow_provider_logidata.engine.staging\n"
        "import airflow_provider_logidata.engine.errors\n"
        "import airflow_provider_logidata.engine.configs\n"
        "from airflow_provider_logidata.modules.registry import registry\n"
        "[m.operator_class() for m in registry()]\n"
        "heavy = [m for m in ('pandas', 'duckdb', 'pyarrow', 'boto3', 'sqlglot', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_execute_source_transforms_destination(tmp_path: Path, _staging: Path) -> None:
    out = tmp_path / "out" / "orders_{{ ds_nodash }}.parquet"
    with DAG("exec_dag", schedule=None):
        read = FileSourceOperator(task_id="read", config={"path": str(DATA_DIR / "orders.csv")})
        dedupe = DeduplicateOperator(task_id="dedupe", config={"columns": ["order_id"]}, inputs=["read"])
        tidy = CleanTextOperator(
            task_id="tidy", config={"columns": ["customer"], "case": "title"}, inputs=["dedupe"]
        )
        dates = ParseDatesOperator(
            task_id="dates",
            config={"columns": ["order_date"], "formats": ["%Y-%m-%d", "%d/%m/%Y"]},
            inputs=["tidy"],
        )
        write = FileDestinationOperator(task_id="write", config={"path": str(out)}, inputs=["dates"])
    xcoms: dict[str, Any] = {}
    handle = run(read, xcoms)
    assert set(handle) == {"uri", "format", "rows", "schema"} and handle["rows"] == 20
    assert handle["uri"].startswith(f"{_staging.as_posix()}/exec_dag/manual__2024-05-06T00_00_00_00_00-")
    assert handle["uri"].endswith("/read/part-00000.parquet")
    for op in (dedupe, tidy, dates):
        run(op, xcoms)
    assert xcoms["dedupe"]["rows"] == 17
    write.render_template_fields({"ds_nodash": "20240506"})  # type: ignore[arg-type]
    result = run(write, xcoms)
    target = tmp_path / "out" / "orders_20240506.parquet"
    assert result == {"uri": target.as_posix(), "rows": 17, "format": "parquet"}
    table = pq.read_table(target)
    assert table.column("customer").to_pylist()[:3] == ["Alice Martin", "Bob Smith", "Carol Dupont"]
    assert str(table.schema.field("order_date").type) == "date32[day]"
    # Every task pushed its run metrics: one node each, rows in from its inputs, rows out from its result.
    expected = {
        "read": ("source.file", None, 20),
        "dedupe": ("deduplicate", 20, 17),
        "tidy": ("clean_text", 17, 17),
        "dates": ("parse_dates", 17, 17),
        "write": ("destination.file", 17, 17),
    }
    for task_id, (module, rows_in, rows_out) in expected.items():
        nodes = PUSHED[task_id]["logidata_metrics"]["nodes"]
        assert list(nodes) == [task_id]
        entry = nodes[task_id]
        assert (entry["module"], entry["rows_in"], entry["rows_out"]) == (module, rows_in, rows_out)
        assert isinstance(entry["seconds"], float) and entry["seconds"] >= 0


def test_fused_chain_pushes_metrics_per_step(tmp_path: Path) -> None:
    from airflow_provider_logidata.operators.chain import FusedChainOperator

    steps = [
        {"node_id": "dedupe", "module": "deduplicate", "config": {"columns": ["order_id"]}},
        {"node_id": "tidy", "module": "clean_text", "config": {"columns": ["customer"], "case": "lower"}},
        {"node_id": "shipped", "module": "filter_rows", "config": {"condition": "status = 'shipped'"}},
        {
            "node_id": "dates",
            "module": "parse_dates",
            "config": {"columns": ["order_date"], "formats": ["%Y-%m-%d", "%d/%m/%Y"]},
        },
    ]
    with DAG("fused_metrics", schedule=None):
        read = FileSourceOperator(task_id="read", config={"path": str(DATA_DIR / "orders.csv")})
        chain = FusedChainOperator(task_id="dates", config={"steps": steps}, inputs=["read"])
    xcoms: dict[str, Any] = {}
    run(read, xcoms)
    handle = run(chain, xcoms)
    nodes = PUSHED["dates"]["logidata_metrics"]["nodes"]
    assert list(nodes) == ["dedupe", "tidy", "shipped", "dates"]
    assert {name: entry["module"] for name, entry in nodes.items()} == {
        "dedupe": "deduplicate",
        "tidy": "clean_text",
        "shipped": "filter_rows",
        "dates": "parse_dates",
    }
    # The key dedupe stays a view: counting it would compute it again, so its rows out (and the filter's
    # rows in, through the row-preserving clean_text) are unknown; the filter's rows out are carried back
    # from the exact final count through parse_dates, which keeps every row.
    assert (nodes["dedupe"]["rows_in"], nodes["dedupe"]["rows_out"]) == (20, None)
    assert (nodes["tidy"]["rows_in"], nodes["tidy"]["rows_out"]) == (None, None)
    assert (nodes["shipped"]["rows_in"], nodes["shipped"]["rows_out"]) == (None, handle["rows"])
    assert (nodes["dates"]["rows_in"], nodes["dates"]["rows_out"]) == (handle["rows"], handle["rows"])
    assert all(isinstance(entry["seconds"], float) for entry in nodes.values())


def test_execute_reports_a_missing_handle(tmp_path: Path) -> None:
    with DAG("missing_dag", schedule=None):
        op = FilterRowsOperator(task_id="f", config={"condition": "a > 1"}, inputs=["sensor"])
    with pytest.raises(LogiDataTaskError, match=r"filter_rows node 'f': input 'sensor' returned no LogiData"):
        run(op, {"sensor": True})


def test_execute_revalidates_rendered_config(tmp_path: Path) -> None:
    with DAG("render_dag", schedule=None):
        op = FileSourceOperator(task_id="read", config={"path": "{{ params.path }}"})
    op.render_template_fields({"params": {"path": ""}})  # type: ignore[arg-type]
    with pytest.raises(
        LogiDataTaskError, match=r"source.file node 'read': the config is not valid after rendering"
    ):
        run(op, {})


def test_source_ignores_upstream_tasks_without_handles(tmp_path: Path) -> None:
    with DAG("sensor_dag", schedule=None):
        sensor = BaseOperator(task_id="wait")
        read = FileSourceOperator(task_id="read", config={"path": str(DATA_DIR / "orders.csv")})
        sensor >> read
    assert run(read, {"wait": None})["rows"] == 20
