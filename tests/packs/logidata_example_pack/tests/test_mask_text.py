"""The example pack's mask_text module: its config, its DuckDB builder on real data, its registration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from logidata_example_pack.mask_text import MODULE, MaskTextConfig
from pydantic import ValidationError

Run = Callable[..., Any]

CARDS = {
    "card": ["4111111111111111", "5500 0000 0000 0004", "123", "", None],
    "amount": [10, 20, 30, 40, 50],
}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"columns": ["card"]}, ["************1111", "***************0004", "123", "", None]),
        ({"columns": ["card"], "keep_last": 0}, ["*" * 16, "*" * 19, "***", "", None]),
        (
            {"columns": ["card"], "keep_last": 2, "mask": "#"},
            ["#" * 14 + "11", "#" * 17 + "04", "#23", "", None],
        ),
        ({"columns": ["card"], "keep_last": 100}, CARDS["card"]),
    ],
    ids=["default", "keep-none", "custom-mask", "keep-all"],
)
def test_masks_all_but_the_last_characters(run: Run, config: dict[str, Any], expected: list[Any]) -> None:
    out = run("mask_text", config, CARDS)
    assert out.column_names == ["card", "amount"]  # same columns, same order
    assert out.column("card").to_pylist() == expected
    assert out.column("amount").to_pylist() == CARDS["amount"]  # other columns untouched


def test_counts_characters_not_bytes(run: Run) -> None:
    out = run("mask_text", {"columns": ["name"], "keep_last": 3}, {"name": ["Zoë Müller", "日本語テキスト"]})
    assert out.column("name").to_pylist() == ["*******ler", "****キスト"]


def test_several_columns_and_case_insensitive_names(run: Run, log: Any) -> None:
    data = {"Phone": ["+33 6 12 34 56 78"], "iban": ["FR7630006000011234567890189"]}
    out = run("mask_text", {"columns": ["phone", "iban", "Phone"], "keep_last": 2}, data, node_id="hide")
    assert out.to_pylist() == [{"Phone": "*" * 15 + "78", "iban": "*" * 25 + "89"}]
    assert any(
        "masking 'Phone', 'iban' with '*', keeping the last 2 character(s)" in line for line in log.lines
    )


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["amount"], "column 'amount' is BIGINT, not text"),
        (["nope"], "nope"),
    ],
)
def test_refuses_columns_it_cannot_mask(run: Run, columns: list[str], message: str) -> None:
    from airflow_provider_logidata.engine.errors import LogiDataTaskError

    with pytest.raises(LogiDataTaskError) as info:
        run("mask_text", {"columns": columns}, CARDS, node_id="hide")
    assert "hide" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"columns": ["a"], "keep_last": -1}, "keep_last"),
        ({"columns": ["a"], "mask": ""}, "mask"),
        ({"columns": ["a"], "mask": "**"}, "mask"),
        ({"columns": []}, "columns"),
        ({"columns": [""]}, "columns"),
        ({"columns": ["a"], "keep": 2}, "keep"),
    ],
)
def test_config_is_checked(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        MaskTextConfig.model_validate(config)
    assert field in str(info.value)


def test_config_schema_drives_the_form() -> None:
    schema = MaskTextConfig.model_json_schema()
    assert schema["properties"]["keep_last"]["minimum"] == 0
    assert schema["properties"]["mask"]["minLength"] == schema["properties"]["mask"]["maxLength"] == 1
    assert schema["properties"]["columns"]["items"]["x-logidata-widget"] == "column"


def test_registered_from_the_installed_distribution() -> None:
    from airflow_provider_logidata.engine import builders
    from airflow_provider_logidata.modules.registry import registry

    definition = registry()["mask_text"]
    assert definition.pack == "logidata-example-pack"
    assert definition.config_model is MaskTextConfig and definition.duckdb is MODULE.duckdb
    step = builders.step("mask_text")
    assert step is not None and step.keeps_rows and not step.blocking
    assert not registry().pack_errors, registry().pack_errors


def test_operator_needs_no_code_of_its_own() -> None:
    from airflow_provider_logidata.operators.base import LogiDataTransformOperator
    from airflow_provider_logidata.operators.transforms import MaskTextOperator

    assert issubclass(MaskTextOperator, LogiDataTransformOperator)
    assert MaskTextOperator.module_name == "mask_text"
    assert MaskTextOperator.config_model is MaskTextConfig
    operator = MaskTextOperator(task_id="hide", config={"columns": ["card"]})
    assert operator.config == {"columns": ["card"], "keep_last": 4, "mask": "*"}
