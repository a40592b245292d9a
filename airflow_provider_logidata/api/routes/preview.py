"""``POST /preview``: a node's data on a sample, computed in the preview worker pool.

A sync route on purpose: FastAPI runs it in its thread pool, so waiting for a worker never blocks the
api-server's event loop; the pool bounds how many wait (429 beyond).
"""

from __future__ import annotations

from typing import Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Request

from airflow_provider_logidata.api.deps import EDIT_BODY_PIPELINE, check_body_pipeline
from airflow_provider_logidata.api.errors import ApiError
from airflow_provider_logidata.api.models import Error
from airflow_provider_logidata.api.preview_models import Preview, PreviewBody

router = APIRouter(tags=["preview"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Malformed JSON"},
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not edit this pipeline"},
    404: {"model": Error, "description": "No such node in the pipeline"},
    413: {"model": Error, "description": "Request body over 2 MiB"},
    422: {"model": Error, "description": "The node or a node upstream is invalid, or failed on the sample"},
    429: {"model": Error, "description": "Too many previews at once"},
    504: {"model": Error, "description": "The preview passed [logidata] preview_timeout"},
    507: {"model": Error, "description": "The preview passed [logidata] preview_memory_limit"},
}


@router.post("/preview", operation_id="preview", dependencies=EDIT_BODY_PIPELINE, responses=_RESPONSES)
def preview(body: PreviewBody, request: Request, user: GetUserDep) -> Preview:
    """The node's output on a sample: columns, JSON-safe rows, column profiles and, for a transform
    with one input, its input sample and per-row status. Needs edit access on the pipeline: previews
    read real data through connections."""
    check_body_pipeline(body.pipeline, request, user, path="pipeline.id")
    from airflow_provider_logidata.preview.plan import PreviewError
    from airflow_provider_logidata.preview.service import preview as run_preview

    try:
        answer = run_preview(
            body.pipeline, body.node_id, limit=body.limit, sampling=body.sampling, seed=body.seed
        )
    except PreviewError as error:
        raise ApiError(error.status, error.detail, error.errors) from None
    return Preview.model_validate(answer)
