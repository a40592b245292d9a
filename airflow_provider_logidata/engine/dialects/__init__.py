"""The SQL dialects ELT compiles to, by name (``engine.dialects.base.SqlDialect``).

A dialect file is imported when first asked for, so that the DAG processor pays only for the ones its
pipelines use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.dialects.base import SqlDialect

# name -> the module holding its ``DIALECT``
DIALECTS = {"postgres": "airflow_provider_logidata.engine.dialects.postgres"}


def dialect(name: str) -> SqlDialect:
    """The dialect called ``name``; a ``ValueError`` listing the known ones for any other."""
    if name not in DIALECTS:
        raise ValueError(f"no ELT dialect {name!r}; known: {', '.join(sorted(DIALECTS))}")
    found: SqlDialect = importlib.import_module(DIALECTS[name]).DIALECT
    return found
