"""Store and validator objects → API models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.api.errors import issue_dicts
from airflow_provider_logidata.api.models import (
    Issue,
    NodeEngineOut,
    NodeSchemaOut,
    StoredPipeline,
    Validation,
    Version,
)

if TYPE_CHECKING:
    from airflow_provider_logidata.schema.sources import Reach
    from airflow_provider_logidata.store import StoredPipeline as StoreStoredPipeline
    from airflow_provider_logidata.store import VersionInfo


SPEC_ALWAYS_PRESENT = ("spec_version", "id", "nodes", "edges")


def with_defaults(data: dict[str, Any], pipeline_id: str) -> dict[str, Any]:
    """A stored document as answered: the keys the canvas always needs are present (a hand-written
    file may omit them). Only missing keys are added; wrong values stay for validation to report."""
    out = dict(data)
    out.setdefault("spec_version", 1)
    out.setdefault("id", pipeline_id)
    out.setdefault("nodes", [])
    out.setdefault("edges", [])
    return out


def current_issues(data: Any, pipeline_id: str | None = None) -> list[Issue]:
    """Every validation issue of a document; unknown modules and broken configs included."""
    from airflow_provider_logidata.spec import validate_pipeline

    result = validate_pipeline(data, expected_id=pipeline_id)
    return [Issue.model_validate(issue) for issue in issue_dicts(result.issues)]


def stored_out(stored: StoreStoredPipeline) -> StoredPipeline:
    return StoredPipeline(
        pipeline=with_defaults(stored.data, stored.id),
        etag=stored.etag,
        version=stored.version,
        saved_at=stored.updated_at,
        errors=current_issues(stored.data, stored.id),
    )


def version_out(info: VersionInfo) -> Version:
    return Version(
        version=info.version,
        etag=info.etag,
        saved_at=info.saved_at,
        author=info.author,
        status=info.status,
        message=info.message,
    )


def check_out(data: Any, pipeline_id: str | None, *, reach: Reach, refresh: bool = False) -> Validation:
    """A design-time check as the API answers it: errors and warnings apart, every node's columns."""
    from airflow_provider_logidata.schema import service
    from airflow_provider_logidata.schema.check import check_pipeline

    if reach == "none":
        result = check_pipeline(data, reach="none", expected_id=pipeline_id)
    else:
        result = service.check(data, reach=reach, refresh=refresh, expected_id=pipeline_id)
    return Validation(
        valid=not result.errors,
        errors=[Issue.model_validate(item) for item in issue_dicts(result.errors)],
        warnings=[Issue.model_validate(item) for item in issue_dicts(result.warnings)],
        schemas={
            nid: NodeSchemaOut.model_validate(schema.to_dict()) for nid, schema in result.schemas.items()
        },
        engines={
            nid: NodeEngineOut.model_validate({"engine": engine, "reason": why})
            for nid, (engine, why) in result.engines.items()
        },
    )
