"""The import path of the second batch of transform operators before 0.2 (``JoinOperator``, ...).

Kept so hand-written DAGs keep working; the classes are the ones of ``operators.transforms``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.operators.family import exported


def __getattr__(name: str) -> Any:
    if name == "LogiDataMultiOutputOperator":
        from airflow_provider_logidata.operators.base import LogiDataMultiOutputOperator

        return LogiDataMultiOutputOperator
    return exported("transform", name, __name__)
