"""The run-metrics XCom of an ELT task: row counts known through row-preserving steps only."""

from __future__ import annotations

from airflow_provider_logidata.engine.elt import EltStep, elt_metrics
from airflow_provider_logidata.modules.transforms.derive_column import DeriveColumnConfig
from airflow_provider_logidata.modules.transforms.filter_rows import FilterRowsConfig


def test_counts_flow_back_through_row_preserving_steps_only() -> None:
    derive = DeriveColumnConfig.model_validate({"columns": [{"name": "x", "expression": "1"}]})
    keep = FilterRowsConfig.model_validate({"condition": "x = 1"})
    steps = [EltStep("keep", "filter_rows", keep), EltStep("add", "derive_column", derive)]
    metrics = elt_metrics("read", steps, "write", 40, 1.23456)
    assert metrics == {
        "nodes": {
            "read": {"module": "source.postgres", "rows_in": None, "rows_out": None, "seconds": None},
            "keep": {"module": "filter_rows", "rows_in": None, "rows_out": 40, "seconds": None},
            "add": {"module": "derive_column", "rows_in": 40, "rows_out": 40, "seconds": None},
            "write": {"module": "destination.postgres", "rows_in": 40, "rows_out": 40, "seconds": 1.235},
        }
    }
    only_derive = elt_metrics("read", steps[1:], "write", 40, 1.0)["nodes"]
    assert only_derive["read"]["rows_out"] == 40 and list(only_derive) == ["read", "add", "write"]
