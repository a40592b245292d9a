"""A module whose config model is a plain pydantic model (not strict, not a ModuleConfig)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from airflow_provider_logidata.modules.registry import ModuleDef


class LooseConfig(BaseModel):
    width: int = 1


def build_duckdb(ctx: Any, relation: str, columns: Any) -> str:
    return f"SELECT * FROM {relation}"


MODULE = ModuleDef(
    name="loose_transform",
    category="transform",
    label="Loose transform",
    description="Never registered: its config model is not a ModuleConfig.",
    config_model=LooseConfig,  # type: ignore[arg-type]
    duckdb=build_duckdb,
)
