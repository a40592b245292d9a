"""Transform operators: ``FilterRowsOperator``, ``JoinOperator``, ... one per transform module.

The classes are generated from the module registry (``operators.family``), so every transform module,
a pack's included, is importable from here by its class name.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.operators.family import exported, exported_names


def __getattr__(name: str) -> Any:
    return exported("transform", name, __name__)


def __dir__() -> list[str]:
    return exported_names("transform")
