"""Dependencies shared by the routes: the pipeline store and Airflow's own access checks.

Access is Airflow's DAG permission on the pipeline's dag_id (= pipeline id): read for reading, edit
(``PUT``) for every change, through ``airflow.api_fastapi.core_api.security`` so any auth manager (simple,
FAB, Keycloak, ...) decides exactly as it does for Airflow's own API.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, Path, Request

from airflow_provider_logidata.store import PipelineStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

_stores: dict[str, PipelineStore] = {}
_stores_lock = threading.Lock()

PipelineIdPath = Annotated[
    str, Path(description="Pipeline id (= the Airflow dag_id).", min_length=1, max_length=200)
]


def get_store(request: Request) -> PipelineStore:
    """The store at ``[logidata] pipelines_path`` (read per request, so a config change needs no restart).

    ``app.state.store`` overrides it (tests).
    """
    override = getattr(request.app.state, "store", None)
    if isinstance(override, PipelineStore):
        return override
    from airflow_provider_logidata import settings

    root = settings.pipelines_path()
    with _stores_lock:
        store = _stores.get(root)
        if store is None:
            store = _stores[root] = PipelineStore(root)
    return store


StoreDep = Annotated[PipelineStore, Depends(get_store)]


def pipeline_access(
    method: ResourceMethod, access_entity: DagAccessEntity | None = None
) -> Callable[[str, Request, BaseUser], None]:
    """Airflow's DAG access check on the pipeline named in the path (``/pipelines/{pipeline_id}``)."""

    def check(pipeline_id: PipelineIdPath, request: Request, user: GetUserDep) -> None:
        requires_access_dag(method, access_entity, param_dag_id=pipeline_id)(request, user)

    return check


def dag_access(method: ResourceMethod) -> Callable[[Request, BaseUser], None]:
    """DAG access in general (no dag_id): may the user read / edit DAGs at all."""
    return requires_access_dag(method)


def check_pipeline_access(method: ResourceMethod, pipeline_id: str, request: Request, user: BaseUser) -> None:
    """The same check for an id found in the request body (create, import, duplicate target)."""
    requires_access_dag(method, param_dag_id=pipeline_id)(request, user)


READ = [Depends(dag_access("GET"))]
EDIT = [Depends(dag_access("PUT"))]
READ_PIPELINE = [Depends(pipeline_access("GET"))]
EDIT_PIPELINE = [Depends(pipeline_access("PUT"))]
