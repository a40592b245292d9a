"""Operators of the transform catalog (config models in ``modules.catalog``, SQL in ``engine.catalog``).

Imported by the DAG processor: only ``airflow.sdk`` and the config models at import time; the engine
(DuckDB, pyarrow, pandas) is imported inside ``execute``.

One-in-one-out modules are plain transform operators (a chain of one step). Modules with several inputs
or outputs share :class:`LogiDataMultiOutputOperator`, which runs ``engine.multi.run_multi``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_logidata.modules.catalog import (
    AggregateConfig,
    DeriveColumnConfig,
    JoinConfig,
    MapValuesConfig,
    PythonConfig,
    QualityCheckConfig,
    RouteConfig,
    SortConfig,
    SqlConfig,
    UnionConfig,
)
from airflow_provider_logidata.modules.registry import output_xcom_key, registry
from airflow_provider_logidata.operators.base import LogiDataTransformOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle
    from airflow_provider_logidata.modules.base import ModuleConfig


class LogiDataMultiOutputOperator(LogiDataTransformOperator):
    """Runs a module with several inputs and/or several outputs (join, union, sql, route, quality_check).

    Inputs are read in the order the DAG factory wires them (a join's ``left`` then ``right``). Each
    output port is staged in its own file (``<task>/<port>/part-00000.parquet`` when there are several);
    every port's handle is pushed to XCom under ``output__<port>`` and the first port's handle is also
    the return value, so both ``task_id`` and ``task_id:port`` inputs resolve downstream.
    """

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine.multi import run_multi

        outputs = registry()[self.module_name].outputs
        several = len(outputs) > 1

        def output_uri(port: str) -> str:
            return self.staging_uri(context, port if several else None)

        results = run_multi(
            config,
            self.task_id,
            handles,
            input_ids,
            output_uri,
            module=self.module_name,
            log=self.log,
        )
        for port in outputs:
            context["ti"].xcom_push(key=output_xcom_key(port), value=results[port])
        self.node_metrics = {
            self.task_id: {
                "module": self.module_name,
                "rows_in": sum(int(handle["rows"]) for handle in handles),
                "rows_out": sum(int(results[port]["rows"]) for port in outputs),  # every output port
                "seconds": None,  # filled in by the base (the whole run)
            }
        }
        return results[outputs[0]]


# --- one input, one output: SQL steps that also run in fused chains ------------------------------------


class AggregateOperator(LogiDataTransformOperator):
    """Group rows and compute counts, sums, averages, minima, maxima (config: ``AggregateConfig``)."""

    module_name = "aggregate"
    config_model = AggregateConfig


class SortOperator(LogiDataTransformOperator):
    """Order rows by one or more columns, stable (config: ``SortConfig``)."""

    module_name = "sort"
    config_model = SortConfig


class DeriveColumnOperator(LogiDataTransformOperator):
    """Add or replace columns computed with checked SQL expressions (config: ``DeriveColumnConfig``)."""

    module_name = "derive_column"
    config_model = DeriveColumnConfig


class MapValuesOperator(LogiDataTransformOperator):
    """Replace values through a lookup table (config: ``MapValuesConfig``)."""

    module_name = "map_values"
    config_model = MapValuesConfig


class PythonTransformOperator(LogiDataTransformOperator):
    """Call a Python function deployed with the DAGs on pandas DataFrames (config: ``PythonConfig``).

    The config holds only the function's dotted path; the function is imported on the worker when the
    task runs.
    """

    module_name = "python"
    config_model = PythonConfig


# --- several inputs or outputs ---------------------------------------------------------------------------


class JoinOperator(LogiDataMultiOutputOperator):
    """Join the ``left`` and ``right`` inputs on key columns (config: ``JoinConfig``)."""

    module_name = "join"
    config_model = JoinConfig


class UnionOperator(LogiDataMultiOutputOperator):
    """Stack two or more inputs, matching columns by name (config: ``UnionConfig``)."""

    module_name = "union"
    config_model = UnionConfig


class SqlOperator(LogiDataMultiOutputOperator):
    """Run a checked SELECT over the inputs (config: ``SqlConfig``)."""

    module_name = "sql"
    config_model = SqlConfig


class RouteOperator(LogiDataMultiOutputOperator):
    """Split rows into the ``matched`` and ``unmatched`` outputs by a condition (config: ``RouteConfig``)."""

    module_name = "route"
    config_model = RouteConfig


class QualityCheckOperator(LogiDataMultiOutputOperator):
    """Check rules; fail, warn, or set failing rows aside in ``rejected`` (``QualityCheckConfig``)."""

    module_name = "quality_check"
    config_model = QualityCheckConfig
