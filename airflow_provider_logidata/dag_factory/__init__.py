"""DAG factory: every active stored pipeline becomes one Airflow DAG."""

from __future__ import annotations

from airflow_provider_logidata.dag_factory.builder import build_dag
from airflow_provider_logidata.dag_factory.loader import load_pipelines
from airflow_provider_logidata.dag_factory.report import FactoryReport, PipelineReport, read_report

__all__ = ["FactoryReport", "PipelineReport", "build_dag", "load_pipelines", "read_report"]
