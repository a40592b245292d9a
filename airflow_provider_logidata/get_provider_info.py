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
        "description": "Memory limit of the embedded DuckDB engine per task; above it DuckDB spills to disk. "
        "`auto`: half of the worker's memory (or its container's limit) divided by its task slots "
        "(`[celery] worker_concurrency`, one per Kubernetes pod, else `[core] parallelism`), at least 320MB.",
        "type": "string",
        "example": "2GB",
        "default": "auto",
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
        "example": "/dags/{pipeline_id}/plugin/logidata-pipeline",
        "default": "/dags/{pipeline_id}/plugin/logidata-pipeline",
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
    # --- data preview in the builder ---
    "preview_workers": {
        "description": "Worker processes that run data previews, outside the api-server's event loop.",
        "type": "integer",
        "example": "4",
        "default": "2",
        "version_added": "0.1.0",
    },
    "preview_timeout": {
        "description": "Seconds one preview may run; past it the worker is killed and the builder shows a "
        "timeout.",
        "type": "float",
        "example": "30",
        "default": "10",
        "version_added": "0.1.0",
    },
    "preview_memory_limit": {
        "description": "Memory one preview worker may use (DuckDB memory limit and process cap), e.g. `1GB`.",
        "type": "string",
        "example": "2GB",
        "default": "1GB",
        "version_added": "0.1.0",
    },
    "preview_queue": {
        "description": "Previews that may wait for a free worker; more at once are refused (HTTP 429).",
        "type": "integer",
        "example": "16",
        "default": "8",
        "version_added": "0.1.0",
    },
    "preview_cache_entries": {
        "description": "Preview answers cached in the api-server (keyed by the upstream sub-graph and "
        "sampling); 0 disables the cache.",
        "type": "integer",
        "example": "128",
        "default": "64",
        "version_added": "0.1.0",
    },
    "preview_prestart": {
        "description": "Start the preview worker processes when the api-server starts (each imports DuckDB "
        "and the engine, a few CPU-seconds); when false they start on the first preview, which then waits.",
        "type": "boolean",
        "example": "False",
        "default": "True",
        "version_added": "0.1.0",
    },
}


# The builder's optional LLM (airflow_provider_logidata.hooks.llm): base URL and model are extra fields,
# the API key is the connection's password (shown as "API key").
_LLM_CONNECTION: dict[str, Any] = {
    "connection-type": "logidata_llm",
    "hook-class-name": "airflow_provider_logidata.hooks.llm.LogiDataLLMHook",
    "hook-name": "LogiData LLM (OpenAI-compatible)",
    "conn-fields": {
        "base_url": {
            "label": "Base URL",
            "description": "OpenAI-compatible API root; /chat/completions is appended, e.g. "
            "https://api.openai.com/v1 or http://127.0.0.1:8000/v1.",
            "schema": {"type": ["string", "null"], "format": "url"},
        },
        "model": {
            "label": "Model",
            "description": "Model name sent with every request, e.g. gpt-4o-mini.",
            "schema": {"type": ["string", "null"]},
        },
        "timeout": {
            "label": "Timeout (s)",
            "description": "Seconds to wait for an answer.",
            "schema": {"type": ["number", "null"], "default": 60, "minimum": 1},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["host", "port", "login", "schema", "extra"],
        "relabeling": {"password": "API key"},
        "placeholders": {"password": "sk-... (leave empty for a local server without keys)"},
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
        # Builder "Describe a step" (issue 5): an OpenAI-compatible chat endpoint.
        "hooks": [
            {"integration-name": "LogiData", "python-modules": ["airflow_provider_logidata.hooks.llm"]}
        ],
        "connection-types": [_LLM_CONNECTION],
    }
