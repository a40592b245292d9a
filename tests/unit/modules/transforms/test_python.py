"""The python module: user functions deployed with the DAGs (here: tests/unit/engine/udfs on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from airflow_provider_logidata.engine.chain import ChainStep, run_chain
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.python import PythonConfig

UDFS = "logidata_test_udfs"
UDFS_DIR = Path(__file__).parents[2] / "engine" / "udfs"
DATA = {
    "id": [1, 2, 3, 4, 5],
    "price": [2.0, 3.0, 4.0, 5.0, 6.0],
    "qty": [1, 2, 3, 4, 5],
    "name": ["a", "b", "c", "d", "e"],
}


@pytest.fixture(autouse=True)
def _user_code_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The udfs folder plays the DAGs folder: code deployed there may be called."""
    monkeypatch.syspath_prepend(str(UDFS_DIR))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(UDFS_DIR))
    monkeypatch.delenv("AIRFLOW__LOGIDATA__PYTHON_MODULES", raising=False)


@pytest.mark.parametrize("path", ["shutil:rmtree", "os.path:join", "airflow_provider_logidata.settings:get"])
def test_code_outside_the_dags_folder_is_refused(transform: Any, path: str) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("python", {"callable": path}, DATA, node_id="py")
    message = str(info.value)
    assert message.startswith(f"python node 'py': callable {path!r} is not allowed: module")
    assert "[logidata] python_modules" in message


@pytest.mark.parametrize(("allowed", "ok"), [("pandas", True), ("pan", False), ("*", True), ("", False)])
def test_python_modules_setting_allows_packages(
    transform: Any, monkeypatch: pytest.MonkeyPatch, allowed: str, ok: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PYTHON_MODULES", allowed)
    # pandas.DataFrame.copy(df) is a callable taking a DataFrame and returning one.
    config = {"callable": "pandas:DataFrame.copy", "mode": "whole"}
    if ok:
        assert transform("python", config, DATA).num_rows == 5
    else:
        with pytest.raises(LogiDataTaskError, match="is not allowed"):
            transform("python", config, DATA)


def test_batch_mode_calls_once_per_batch(transform: Any) -> None:
    out = transform("python", {"callable": f"{UDFS}:count_rows", "batch_rows": 2}, DATA)
    assert out.to_pylist() == [
        {"rows": 2, "first_id": 1},
        {"rows": 2, "first_id": 3},
        {"rows": 1, "first_id": 5},
    ]


def test_whole_mode_calls_once_with_everything(transform: Any) -> None:
    out = transform("python", {"callable": f"{UDFS}:count_rows", "mode": "whole", "batch_rows": 2}, DATA)
    assert out.to_pylist() == [{"rows": 5, "first_id": 1}]


@pytest.mark.parametrize("mode", ["batch", "whole"])
def test_function_result_becomes_the_output(transform: Any, mode: str) -> None:
    out = transform("python", {"callable": f"{UDFS}.add_total", "mode": mode, "batch_rows": 2}, DATA)
    assert out.column_names == ["id", "price", "qty", "name", "total"]
    assert out.column("total").to_pylist() == [2.0, 6.0, 12.0, 20.0, 30.0]


def test_kwargs_and_nested_attribute(transform: Any) -> None:
    out = transform("python", {"callable": f"{UDFS}:scale", "kwargs": {"factor": 10, "suffix": "_x10"}}, DATA)
    assert out.to_pylist()[:2] == [{"scaled_x10": 20.0}, {"scaled_x10": 30.0}]
    upper = transform("python", {"callable": f"{UDFS}:Tools.upper_names"}, DATA)
    assert upper.column("name").to_pylist() == ["A", "B", "C", "D", "E"]


def test_empty_input_still_calls_once(transform: Any) -> None:
    import pyarrow as pa

    empty = pa.table(
        {"id": pa.array([], pa.int64()), "price": pa.array([], pa.float64()), "qty": pa.array([], pa.int64())}
    )
    out = transform("python", {"callable": f"{UDFS}:add_total"}, empty)
    assert out.num_rows == 0
    assert out.column_names == ["id", "price", "qty", "total"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "logidata_no_such_module:fn",
            "python node 'py': cannot import module 'logidata_no_such_module' for callable "
            "'logidata_no_such_module:fn': it is not found on this worker; deploy the module with the DAGs",
        ),
        (
            "logidata_test_udfs_broken:anything",
            "python node 'py': importing module 'logidata_test_udfs_broken' for callable "
            "'logidata_test_udfs_broken:anything' failed: No module named "
            "'logidata_dependency_that_is_not_installed'; install 'logidata_dependency_that_is_not_installed' "
            "on the workers or remove the import",
        ),
        (
            f"{UDFS}:add_totl",
            f"python node 'py': '{UDFS}' has no 'add_totl' (callable '{UDFS}:add_totl'); callables there:",
        ),
        (f"{UDFS}:NOT_CALLABLE", f"python node 'py': '{UDFS}:NOT_CALLABLE' is a int, not a function"),
        (
            f"{UDFS}:not_a_frame",
            f"python node 'py': {UDFS}:not_a_frame returned dict, not a pandas DataFrame (batch 1); return a DataFrame",
        ),
        (
            f"{UDFS}:explode",
            f"python node 'py': {UDFS}:explode raised ValueError: negative price in row 2 (batch 1); fix the function",
        ),
    ],
)
def test_clear_errors_name_the_node(transform: Any, path: str, message: str) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("python", {"callable": path}, DATA, node_id="py")
    assert str(info.value).startswith(message)


def test_batches_must_agree_on_columns_and_types(transform: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        transform("python", {"callable": f"{UDFS}:changing_types", "batch_rows": 2}, DATA, node_id="py")
    assert str(info.value).startswith(
        f"python node 'py': {UDFS}:changing_types returned different types across batches: 'value' (int64 in "
        "batch 1, large_string in batch 2) (Failed to parse string: 'id-4' as a scalar of type int64); set the "
        "dtypes explicitly"
    )
    assert str(info.value).endswith("or use mode 'whole'")
    with pytest.raises(
        LogiDataTaskError, match=r"returned columns \['b'\] for batch 2 but \['a'\] for batch 1"
    ):
        transform("python", {"callable": f"{UDFS}:changing_columns", "batch_rows": 2}, DATA)


@pytest.mark.parametrize(
    "path",
    [
        "__import__('os').system('id')",
        "os.system('id')",
        "lambda df: df",
        "justafunction",
        "a.b:c d",
        "a..b:c",
    ],
)
def test_config_holds_only_a_dotted_path(path: str) -> None:
    with pytest.raises(ValidationError, match="callable must be a dotted path"):
        PythonConfig.model_validate({"callable": path})


def test_python_step_inside_a_fused_chain(stage: Any, tmp_path: Path, log: Any) -> None:
    steps = [
        ChainStep("big", "filter_rows", {"condition": "qty >= 2"}),
        ChainStep("py", "python", {"callable": f"{UDFS}:add_total", "batch_rows": 2}),
        ChainStep("order", "sort", {"by": [{"column": "total", "descending": True}]}),
        ChainStep("sum", "aggregate", {"aggregations": [{"column": "total", "function": "sum"}]}),
    ]
    handle = run_chain(steps, [stage(DATA)], str(tmp_path / "chain" / "part-00000.parquet"), log=log)
    assert pq.read_table(handle["uri"]).to_pylist() == [{"total_sum": 68.0}]
    assert "python node 'py': logidata_test_udfs:add_total (batch) returned 4 row(s)" in log.text()
