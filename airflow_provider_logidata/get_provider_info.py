"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

# Defaults that depend on $AIRFLOW_HOME are resolved in ``settings`` at read time: provider config
# defaults are not interpolated by Airflow, so they are left empty here and documented.
_CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "pipelines_path": {
        "description": "Folder or object-storage URI (s3://conn_id@bucket/prefix) holding one JSON file "
        "per pipeline. Empty means $AIRFLOW_HOME/logidata/pipelines.",
        "type": "string",
        "example": "s3://aws_default@my-bucket/logidata/pipelines",
        "default": "",
        "version_added": "0.1.0",
    },
    "staging_path": {
        "description": "Where tasks stage Parquet between each other, namespaced by dag_id/run_id/task_id. "
        "Use object storage (s3://...) when workers run on several machines. Empty means "
        "$AIRFLOW_HOME/logidata/staging.",
        "type": "string",
        "example": "s3://aws_default@my-bucket/logidata/staging",
        "default": "",
        "version_added": "0.1.0",
    },
    "report_path": {
        "description": "Local JSON file where the DAG factory writes which pipelines it loaded and why any "
        "failed. Read by `logidata report` and the builder. Empty means "
        "$AIRFLOW_HOME/logidata/factory_report.json.",
        "type": "string",
        "example": "/opt/airflow/logidata/factory_report.json",
        "default": "",
        "version_added": "0.1.0",
    },
    "keep_staging": {
        "description": "When to keep a run's staged data: `never`, `on_failure` (kept for debugging and "
        "retries) or `always`.",
        "type": "string",
        "example": "on_failure",
        "default": "on_failure",
        "version_added": "0.1.0",
    },
    "duckdb_memory_limit": {
        "description": "Memory limit of the embedded DuckDB engine per task; above it DuckDB spills to disk.",
        "type": "string",
        "example": "2GB",
        "default": "1GB",
        "version_added": "0.1.0",
    },
    "duckdb_threads": {
        "description": "Threads DuckDB may use per task (0 means DuckDB's default: all cores).",
        "type": "integer",
        "example": "2",
        "default": "0",
        "version_added": "0.1.0",
    },
    "batch_rows": {
        "description": "Rows per Arrow record batch streamed between readers, DuckDB and writers.",
        "type": "integer",
        "example": "100000",
        "default": "122880",
        "version_added": "0.1.0",
    },
    "builder_url": {
        "description": "Link to the pipeline builder used in DAG docs; `{pipeline_id}` is filled in.",
        "type": "string",
        "example": "/plugin/logidata#/pipelines/{pipeline_id}",
        "default": "/plugin/logidata#/pipelines/{pipeline_id}",
        "version_added": "0.1.0",
    },
    "python_modules": {
        "description": "Comma-separated module prefixes that `python` nodes may call besides code deployed "
        "in the DAGs folder (which is always allowed), e.g. `my_company.etl, pandas_helpers`; `*` allows "
        "any importable module. Pipelines are edited by users who may not deploy code, so by default "
        "they can only call what the DAG authors deployed.",
        "type": "string",
        "example": "my_company.etl",
        "default": "",
        "version_added": "0.1.0",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider description; ``package-name`` must equal the distribution name."""
    return {
        "package-name": "airflow-provider-logidata",
        "name": "LogiData",
        "description": "Visual ETL/ELT pipelines that live inside Apache Airflow.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "LogiData",
                "external-doc-url": "https://pypi.org/project/airflow-provider-logidata/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "LogiData",
                "python-modules": [
                    "airflow_provider_logidata.operators.sources",
                    "airflow_provider_logidata.operators.transforms",
                    "airflow_provider_logidata.operators.destinations",
                ],
            }
        ],
        "config": {
            "logidata": {
                "description": "LogiData pipelines: where they are stored, where data is staged, limits.",
                "options": _CONFIG_OPTIONS,
            }
        },
    }
