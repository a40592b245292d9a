"""Registration of the built-in modules."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules import destinations, sources, transforms
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_logidata.modules.registry import ModuleRegistry, RowOrder

_OPS = "airflow_provider_logidata.operators"


def _deduplicate_order(config: Mapping[str, Any]) -> RowOrder:
    """On all columns duplicates are identical rows (a ``DISTINCT``): any input order gives the same
    rows. On key columns ``keep`` first/last is defined by input order."""
    return "needs" if config.get("columns") else "discards"


BUILTIN_MODULES: tuple[ModuleDef, ...] = (
    ModuleDef(
        name="source.file",
        category="source",
        label="File",
        description="Read CSV, Parquet or JSON-lines files (local or object storage, globs allowed).",
        config_model=sources.FileSourceConfig,
        operator=f"{_OPS}.sources.FileSourceOperator",
        min_inputs=0,
        max_inputs=0,
        icon="file",
    ),
    ModuleDef(
        name="select_columns",
        category="transform",
        fusable=True,
        row_order="keeps",
        label="Select columns",
        description="Keep, order, rename and cast columns.",
        config_model=transforms.SelectColumnsConfig,
        operator=f"{_OPS}.transforms.SelectColumnsOperator",
        icon="columns",
    ),
    ModuleDef(
        name="filter_rows",
        category="transform",
        fusable=True,
        row_order="keeps",
        label="Filter rows",
        description="Keep rows matching a SQL condition.",
        config_model=transforms.FilterRowsConfig,
        operator=f"{_OPS}.transforms.FilterRowsOperator",
        icon="filter",
    ),
    ModuleDef(
        name="deduplicate",
        category="transform",
        fusable=True,
        row_order=_deduplicate_order,
        label="Deduplicate",
        description="Remove duplicate rows on all or key columns.",
        config_model=transforms.DeduplicateConfig,
        operator=f"{_OPS}.transforms.DeduplicateOperator",
        icon="copy",
    ),
    ModuleDef(
        name="fill_nulls",
        category="transform",
        fusable=True,
        row_order="keeps",
        label="Fill nulls",
        description="Replace nulls with a constant or a column statistic.",
        config_model=transforms.FillNullsConfig,
        operator=f"{_OPS}.transforms.FillNullsOperator",
        icon="paint-bucket",
    ),
    ModuleDef(
        name="clean_text",
        category="transform",
        fusable=True,
        row_order="keeps",
        label="Clean text",
        description="Trim, collapse spaces and change case.",
        config_model=transforms.CleanTextConfig,
        operator=f"{_OPS}.transforms.CleanTextOperator",
        icon="type",
    ),
    ModuleDef(
        name="parse_dates",
        category="transform",
        fusable=True,
        row_order="keeps",
        label="Parse dates",
        description="Parse text into dates or timestamps.",
        config_model=transforms.ParseDatesConfig,
        operator=f"{_OPS}.transforms.ParseDatesOperator",
        icon="calendar",
    ),
    ModuleDef(
        name="destination.file",
        category="destination",
        label="File",
        description="Write a Parquet or CSV file, replaced atomically.",
        config_model=destinations.FileDestinationConfig,
        operator=f"{_OPS}.destinations.FileDestinationOperator",
        min_inputs=1,
        max_inputs=1,
        outputs=(),
        icon="save",
    ),
)


# Further built-in module packs: each module named here defines ``MODULES: tuple[ModuleDef, ...]``.
# One line per pack keeps packs independent of each other (and of this file's own list).
PACKS: tuple[str, ...] = (
    "airflow_provider_logidata.modules.http_api",  # source.http_api
    "airflow_provider_logidata.modules.postgres",  # source.postgres, destination.postgres
    "airflow_provider_logidata.modules.catalog",  # join, aggregate, sort, union, sql, route, ...
)


def register_all(reg: ModuleRegistry) -> None:
    for module in BUILTIN_MODULES:
        reg.register(module)
    for pack in PACKS:
        for module in importlib.import_module(pack).MODULES:
            reg.register(module)
