"""Pipeline spec v1: models, validation and JSON Schema."""

from __future__ import annotations

from airflow_provider_logidata.spec.errors import SpecIssue, SpecValidationError
from airflow_provider_logidata.spec.models import SPEC_VERSION, Edge, Node, Pipeline, Position
from airflow_provider_logidata.spec.validate import ValidationResult, load_json, validate_pipeline

__all__ = [
    "SPEC_VERSION",
    "Edge",
    "Node",
    "Pipeline",
    "Position",
    "SpecIssue",
    "SpecValidationError",
    "ValidationResult",
    "load_json",
    "validate_pipeline",
]
