"""Transform operators: each compiles its config to SQL run by DuckDB over the staged input.

The SQL builders live in ``engine.transforms`` (keyed by ``module_name``); these classes only bind a
module name to its config model so they stay cheap to import at DAG parse time.
"""

from __future__ import annotations

from airflow_provider_logidata.modules.transforms import (
    CleanTextConfig,
    DeduplicateConfig,
    FillNullsConfig,
    FilterRowsConfig,
    ParseDatesConfig,
    SelectColumnsConfig,
)
from airflow_provider_logidata.operators.base import LogiDataTransformOperator


class SelectColumnsOperator(LogiDataTransformOperator):
    """Keep, order, rename and cast columns (config: ``SelectColumnsConfig``)."""

    module_name = "select_columns"
    config_model = SelectColumnsConfig


class FilterRowsOperator(LogiDataTransformOperator):
    """Keep rows matching a SQL condition, validated before it runs (config: ``FilterRowsConfig``)."""

    module_name = "filter_rows"
    config_model = FilterRowsConfig


class DeduplicateOperator(LogiDataTransformOperator):
    """Remove duplicate rows on all or key columns (config: ``DeduplicateConfig``).

    On key columns the first or last row per key is kept and rows keep input order; on every column
    duplicates are identical, so it is ``SELECT DISTINCT *`` and the output order is not input order.
    """

    module_name = "deduplicate"
    config_model = DeduplicateConfig


class FillNullsOperator(LogiDataTransformOperator):
    """Replace nulls with a constant or a column statistic (config: ``FillNullsConfig``)."""

    module_name = "fill_nulls"
    config_model = FillNullsConfig


class CleanTextOperator(LogiDataTransformOperator):
    """Trim, collapse spaces and change case of text columns (config: ``CleanTextConfig``)."""

    module_name = "clean_text"
    config_model = CleanTextConfig


class ParseDatesOperator(LogiDataTransformOperator):
    """Parse text into dates or timestamps with explicit formats (config: ``ParseDatesConfig``)."""

    module_name = "parse_dates"
    config_model = ParseDatesConfig
