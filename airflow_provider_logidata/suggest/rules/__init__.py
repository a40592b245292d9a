"""Built-in suggestion rules; each module registers its rules on import (see ``suggest.registry``)."""

from __future__ import annotations

from airflow_provider_logidata.suggest.rules import (  # noqa: F401
    columns,
    destination,
    duplicates,
    joins,
    names,
    nulls,
    outliers,
    personal,
    text,
    types,
    variants,
)
