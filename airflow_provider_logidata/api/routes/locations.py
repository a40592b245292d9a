"""``GET /locations`` and ``GET /locations/browse``: the path picker's view of the allowed data locations.

Thin on purpose: what may be listed is the path policy's decision, made in ``api.locations``. Listing a
folder shows real data's names, sizes and times, so it needs what a preview needs: DAG edit (on the
pipeline being edited when the builder names it, else on DAGs in general). Sync routes: FastAPI runs
them in its thread pool, so a slow disk or S3 endpoint never blocks the api-server's event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Depends, Query, Request
from pydantic import WithJsonSchema

from airflow_provider_logidata.api import locations
from airflow_provider_logidata.api.deps import check_pipeline_access, dag_access
from airflow_provider_logidata.api.errors import ApiError
from airflow_provider_logidata.api.locations_models import LocationList, LocationListing
from airflow_provider_logidata.api.models import Error
from airflow_provider_logidata.spec.errors import short_repr
from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store import check_pipeline_id
from airflow_provider_logidata.store.layout import MAX_ID_LENGTH

router = APIRouter(tags=["locations"])

# Published with the id rule and checked in the dependency, so a malformed id is the API's 400 naming it.
PipelineIdQuery = Annotated[
    str | None,
    Query(
        description=(
            "The pipeline being edited: browsing then needs DAG edit on its dag_id (per-DAG grants). "
            "Without it: DAG edit on DAGs in general. Letters, digits, '_', '-' and '.', not starting with "
            f"'.' or '-', at most {MAX_ID_LENGTH} characters; any other id is a 400."
        )
    ),
    WithJsonSchema(
        {"type": "string", "pattern": PIPELINE_ID_PATTERN, "minLength": 1, "maxLength": MAX_ID_LENGTH}
    ),
]


def may_browse(request: Request, user: GetUserDep, pipeline_id: PipelineIdQuery = None) -> None:
    """The preview's right: DAG edit on the pipeline being edited (so per-DAG grants work), or without
    ``pipeline_id`` on DAGs in general, as a preview without a usable pipeline id is checked."""
    if pipeline_id is None:
        dag_access("PUT")(request, user)
        return
    check_pipeline_id(pipeline_id)  # InvalidPipelineId: the API's 400
    check_pipeline_access("PUT", pipeline_id, request, user)


BROWSE = [Depends(may_browse)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Invalid pipeline_id (see the parameter's pattern)"},
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not edit this pipeline (or DAGs)"},
}
_BROWSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    400: {
        "model": Error,
        "description": "The uri or conn_id is malformed or outside the path policy (the detail names the "
        "rule), it names a file, or pipeline_id is invalid",
    },
    404: {"model": Error, "description": "Nothing exists at the uri"},
    502: {"model": Error, "description": "The storage failed the listing (permission, endpoint, ...)"},
}

UriQuery = Annotated[
    str,
    Query(
        description="The folder or prefix to list: an absolute local path (or file://), or "
        "s3://bucket/prefix (s3://conn_id@bucket/prefix). Checked by the path policy; longer than "
        f"{locations.MAX_URI_LENGTH} characters is a 400."
    ),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": locations.MAX_URI_LENGTH}),
]
ConnIdQuery = Annotated[
    str | None,
    Query(
        description="The Airflow connection (type aws) of a plain s3://bucket/prefix, as a module's conn_id "
        f"field; ignored for local paths. {locations.CONN_ID_RULE.capitalize()}."
    ),
    WithJsonSchema({"type": "string", "maxLength": 250}),
]


@router.get("/locations", operation_id="list_locations", dependencies=BROWSE, responses=_RESPONSES)
def list_locations() -> LocationList:
    """The roots a pipeline may read under ([logidata] allowed_paths as the path policy applies it):
    local folders, then S3 prefixes with the connection the policy ties them to."""
    return LocationList(locations=locations.allowed_locations())


@router.get(
    "/locations/browse", operation_id="browse_location", dependencies=BROWSE, responses=_BROWSE_RESPONSES
)
def browse_location(uri: UriQuery, conn_id: ConnIdQuery = None) -> LocationListing:
    """The children of a folder or prefix inside an allowed location, directories first then by name,
    at most ``limit`` of them (``truncated`` says there are more). Only what the path policy lets a
    pipeline read is listed, in the form a config path field takes."""
    try:
        return locations.browse(uri, conn_id)
    except locations.BrowseError as error:
        value = conn_id if error.param == "conn_id" else uri
        issue = {"path": error.param, "message": error.message, "found": short_repr(value)}
        raise ApiError(error.status, error.detail, [issue]) from None
