"""The pipeline store: JSON files with history, in a local folder or on object storage."""

from __future__ import annotations

from airflow_provider_logidata.store.errors import (
    ConflictError,
    InvalidPipelineId,
    PipelineNotFound,
    StoreError,
    UnreadablePipeline,
    VersionNotFound,
)
from airflow_provider_logidata.store.layout import check_pipeline_id, compute_etag
from airflow_provider_logidata.store.models import PipelineSummary, RawPipeline, StoredPipeline, VersionInfo
from airflow_provider_logidata.store.store import PipelineStore

__all__ = [
    "ConflictError",
    "InvalidPipelineId",
    "PipelineNotFound",
    "PipelineStore",
    "PipelineSummary",
    "RawPipeline",
    "StoreError",
    "StoredPipeline",
    "UnreadablePipeline",
    "VersionInfo",
    "VersionNotFound",
    "check_pipeline_id",
    "compute_etag",
]
