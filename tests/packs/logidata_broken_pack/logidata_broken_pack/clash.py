"""A module named like a built-in one (filter_rows): a pack never replaces a built-in module."""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef


class OtherFilterConfig(ModuleConfig):
    keep_all: bool = True


def build_duckdb(ctx: Any, relation: str, columns: Any) -> str:
    return f"SELECT * FROM {relation}"


MODULE = ModuleDef(
    name="filter_rows",
    category="transform",
    label="Filter rows (again)",
    description="Never registered: the name belongs to a built-in module.",
    config_model=OtherFilterConfig,
    duckdb=build_duckdb,
)
