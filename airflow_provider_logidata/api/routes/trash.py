"""Deleted pipelines: what a restore can bring back (the restore itself is ``POST /pipelines/{id}/restore``).

Its own path, not ``/pipelines/deleted``: ``deleted`` is a valid pipeline id.
"""

from __future__ import annotations

from typing import Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Request

from airflow_provider_logidata.api.deps import READ, StoreDep
from airflow_provider_logidata.api.models import DeletedList, DeletedPipelineOut, Error

router = APIRouter(prefix="/trash", tags=["pipelines"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not read DAGs"},
}


@router.get("", operation_id="list_deleted_pipelines", dependencies=READ, responses=_ERRORS)
def list_deleted_pipelines(request: Request, user: GetUserDep, store: StoreDep) -> DeletedList:
    """Deleted pipelines whose DAG the user may read, newest deletion first."""
    deleted = store.deleted()
    auth_manager = request.app.state.auth_manager
    readable = auth_manager.filter_authorized_dag_ids(
        dag_ids={item.id for item in deleted}, user=user, method="GET"
    )
    return DeletedList(
        pipelines=[DeletedPipelineOut(**item.to_dict()) for item in deleted if item.id in readable]
    )
