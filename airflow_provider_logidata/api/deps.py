"""Dependencies shared by the routes: the pipeline store and Airflow's own access checks.

Access is decided by Airflow's auth manager through ``airflow.api_fastapi.core_api.security``, so any
auth manager (simple, FAB, Keycloak, ...) decides exactly as it does for Airflow's own API:

- reading a pipeline is DAG read on its dag_id (= pipeline id), every change is DAG edit (``PUT``) on
  that dag_id: the id in the path, or for create, import, duplicate, previews and suggestions the id in
  the request body, so per-DAG grants work for pipelines that have no DAG yet;
- starting a run is DAG-run create on that dag_id (what Airflow's trigger endpoint checks), reading runs
  DAG-run read;
- listing connections is connection read, as for Airflow's ``GET /api/v2/connections``.

A refusal is a 403 naming the permission that is missing; a bad or expired token is answered exactly as
Airflow's core API answers it (the same ``get_user`` dependency runs first).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    requires_access_connection,
    requires_access_dag,
)
from fastapi import Depends, HTTPException, Path, Request, status
from starlette.concurrency import run_in_threadpool

from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store import PipelineStore, check_pipeline_id
from airflow_provider_logidata.store.layout import MAX_ID_LENGTH

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

_stores: dict[str, PipelineStore] = {}
_stores_lock = threading.Lock()

# The id rules are published in the OpenAPI document but checked by the access dependency (not by
# FastAPI), so a malformed id is the documented 400 naming the rule, on every route alike.
PipelineIdPath = Annotated[
    str,
    Path(
        description=(
            "Pipeline id (= the Airflow dag_id): letters, digits, '_', '-' and '.', not starting with "
            f"'.' or '-', at most {MAX_ID_LENGTH} characters; any other id is a 400."
        ),
        json_schema_extra={"pattern": PIPELINE_ID_PATTERN, "minLength": 1, "maxLength": MAX_ID_LENGTH},
    ),
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


def _what(method: ResourceMethod, access_entity: DagAccessEntity | None, dag_id: str | None) -> str:
    """The permission in words, for the 403 (the UI shows it as is)."""
    target = f"DAG {dag_id!r}" if dag_id else "DAGs"
    if access_entity is not None and access_entity.value == "RUN":
        if method == "POST":
            return f"trigger runs of {target}: starting a run needs DAG run create permission"
        return f"read the runs of {target}: needs DAG run read permission"
    if method == "GET":
        return f"read {target}: pipelines need DAG read permission"
    return f"edit {target}: changing a pipeline needs DAG edit permission on its dag_id (= pipeline id)"


def _require_dag(
    method: ResourceMethod,
    request: Request,
    user: BaseUser,
    *,
    dag_id: str | None = None,
    access_entity: DagAccessEntity | None = None,
) -> None:
    """Airflow's own DAG check (``DagDetails(id=dag_id)``: per-DAG where the auth manager has it)."""
    try:
        requires_access_dag(method, access_entity, param_dag_id=dag_id)(request, user)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_403_FORBIDDEN:
            raise
        detail = f"Forbidden: your Airflow role may not {_what(method, access_entity, dag_id)}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail) from None


def pipeline_access(
    method: ResourceMethod, access_entity: DagAccessEntity | None = None
) -> Callable[[str, Request, BaseUser], None]:
    """Airflow's DAG access check on the pipeline named in the path (``/pipelines/{pipeline_id}``).

    A malformed id is a 400 (the store's rule) before any permission is looked up.
    """

    def check(pipeline_id: PipelineIdPath, request: Request, user: GetUserDep) -> None:
        check_pipeline_id(pipeline_id)
        _require_dag(method, request, user, dag_id=pipeline_id, access_entity=access_entity)

    return check


def dag_access(method: ResourceMethod) -> Callable[[Request, BaseUser], None]:
    """DAG access in general (no dag_id): may the user read / edit DAGs at all."""

    def check(request: Request, user: GetUserDep) -> None:
        _require_dag(method, request, user)

    return check


def check_pipeline_access(method: ResourceMethod, pipeline_id: str, request: Request, user: BaseUser) -> None:
    """The same check for an id found in the request body (create, import, duplicate target)."""
    _require_dag(method, request, user, dag_id=pipeline_id)


def check_body_pipeline(pipeline: dict[str, Any], request: Request, user: BaseUser, *, path: str) -> str:
    """The id of a pipeline sent in a body, once the user may edit it: 422 naming ``path`` if unusable."""
    from airflow_provider_logidata.api.errors import ApiError

    try:
        pipeline_id = check_pipeline_id(pipeline.get("id"))
    except ValueError as exc:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the pipeline has no usable id: {exc}",
            [{"path": path, "message": str(exc)}],
        ) from None
    check_pipeline_access("PUT", pipeline_id, request, user)
    return pipeline_id


def _id_at(document: Any, path: Sequence[str]) -> str | None:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    try:
        return check_pipeline_id(document)
    except ValueError:
        return None


def body_pipeline_access(
    method: ResourceMethod, *id_path: str
) -> Callable[[Request, BaseUser], Awaitable[None]]:
    """DAG access on the pipeline id found in the JSON body at ``id_path`` (e.g. ``pipeline.id``).

    Checked before the body is validated, so a user who may not edit gets a 403, not a 422 about the
    body. Without a usable id there (malformed JSON, no id: the route answers 400/422 for that) the
    check is on DAGs in general, as Airflow's own endpoints without a dag_id do.
    """

    async def check(request: Request, user: GetUserDep) -> None:
        try:
            document: Any = json.loads(await request.body())
        except (ValueError, RecursionError):  # malformed, NaN, huge ints, deep nesting: the route's 4xx
            document = None
        dag_id = _id_at(document, id_path)
        await run_in_threadpool(_require_dag, method, request, user, dag_id=dag_id)

    return check


def connection_access(method: ResourceMethod) -> Callable[[Request, BaseUser], Awaitable[None]]:
    """Airflow's connection permission (``requires_access_connection``), with the refusal explained."""
    airflow_check = requires_access_connection(method)

    async def check(request: Request, user: GetUserDep) -> None:
        try:
            await airflow_check(request, user)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_403_FORBIDDEN:
                raise
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "Forbidden: your Airflow role may not read connections (Airflow's connection read "
                "permission); type the connection id in the builder instead",
            ) from None

    return check


READ = [Depends(dag_access("GET"))]
EDIT = [Depends(dag_access("PUT"))]
READ_PIPELINE = [Depends(pipeline_access("GET"))]
EDIT_PIPELINE = [Depends(pipeline_access("PUT"))]
# Edit access on the pipeline the body carries: ``{"pipeline": {"id"}}``, an imported document's ``id``,
# the ``new_id`` of a duplicate.
EDIT_BODY_PIPELINE = [Depends(body_pipeline_access("PUT", "pipeline", "id"))]
EDIT_BODY_DOCUMENT = [Depends(body_pipeline_access("PUT", "id"))]
EDIT_BODY_NEW_ID = [Depends(body_pipeline_access("PUT", "new_id"))]
READ_CONNECTIONS = [Depends(connection_access("GET"))]
