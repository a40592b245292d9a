"""Airflow DAG loader for LogiData: every stored pipeline becomes a DAG (safe-mode words: airflow, dag)."""

from airflow_provider_logidata.dag_factory import load_pipelines

load_pipelines(globals())
