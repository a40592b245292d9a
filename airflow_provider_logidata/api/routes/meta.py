"""Who am I, the module palette, validation and the connection picker."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Query, Request
from pydantic import WithJsonSchema

from airflow_provider_logidata.api.deps import READ, READ_CONNECTIONS
from airflow_provider_logidata.api.models import (
    Connection,
    ConnectionList,
    Error,
    Me,
    ModuleList,
    ModulePackError,
    ValidateBody,
    Validation,
)
from airflow_provider_logidata.api.palette import palette
from airflow_provider_logidata.spec.models import PIPELINE_ID_PATTERN
from airflow_provider_logidata.store import check_pipeline_id
from airflow_provider_logidata.store.layout import MAX_ID_LENGTH

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

    from airflow_provider_logidata.schema.sources import Reach

router = APIRouter(tags=["builder"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not read DAGs"},
}


# As ``PipelineIdPath`` (deps.py): the rule is published here and checked in the route, so a malformed id
# is the API's 400 naming the rule (not FastAPI's 422). A query parameter is never null: a plain string.
PipelineIdQuery = Annotated[
    str | None,
    Query(
        description=(
            "Answer can_edit / can_run for this pipeline's DAG (pipeline id = dag_id): letters, digits, "
            f"'_', '-' and '.', not starting with '.' or '-', at most {MAX_ID_LENGTH} characters; any "
            "other id is a 400. Without it: for DAGs in general."
        )
    ),
    WithJsonSchema(
        {"type": "string", "pattern": PIPELINE_ID_PATTERN, "minLength": 1, "maxLength": MAX_ID_LENGTH}
    ),
]


@router.get(
    "/me",
    operation_id="me",
    responses={
        400: {"model": Error, "description": "Invalid pipeline_id (see the parameter's pattern)"},
        **_AUTH_ERRORS,
    },
)
def me(request: Request, user: GetUserDep, session: SessionDep, pipeline_id: PipelineIdQuery = None) -> Me:
    """The logged-in user, what the builder may offer them, and whether Describe a step is available
    (a logidata_llm connection exists).

    With ``pipeline_id`` the permissions are the ones the routes check for that pipeline (DAG edit to
    save, DAG run create to run), so an auth manager's per-DAG grants show up in the editor instead of
    a canvas that is read-only although saves would be accepted (or the reverse). Without it they are
    for DAGs in general (the pipeline list: may the user create pipelines at all).
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    from airflow_provider_logidata.api.routes.suggest import llm_conn_ids

    details: DagDetails | None = None
    if pipeline_id is not None:
        from airflow.models.dag import DagModel

        check_pipeline_id(pipeline_id)  # InvalidPipelineId: the API's 400
        # The same details as Airflow's requires_access_dag (deps.py), so the answer matches the check.
        details = DagDetails(id=pipeline_id, team_name=DagModel.get_team_name(pipeline_id, session=session))
    auth_manager = request.app.state.auth_manager
    can_edit = auth_manager.is_authorized_dag(method="PUT", details=details, user=user)
    can_run = auth_manager.is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=details, user=user
    )
    return Me(
        username=str(user.get_name()),
        can_edit=bool(can_edit),
        can_run=bool(can_run),
        llm=bool(llm_conn_ids(session)),
    )


@router.get("/modules", operation_id="list_modules", dependencies=READ, responses=_AUTH_ERRORS)
def list_modules() -> ModuleList:
    """Every module with its config JSON Schema (forms and pickers are generated from it), and the
    installed module packs that failed to load (so the builder can say why a module is missing)."""
    from airflow_provider_logidata.modules.registry import registry

    errors = [ModulePackError(**asdict(error)) for error in registry().pack_errors]
    return ModuleList(modules=palette(), pack_errors=errors)


@router.post(
    "/validate",
    operation_id="validate",
    dependencies=READ,
    responses={**_AUTH_ERRORS, 400: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}},
)
def validate(body: ValidateBody, request: Request, user: GetUserDep) -> Validation:
    """Every problem of a pipeline, per node and config field, and every node's output columns.

    An invalid pipeline is a 200 here. Sources are read (through the preview workers, their columns
    remembered for a while) only for a user who may edit the pipeline, as for a preview; otherwise, or
    with ``read_sources`` false, the structure is checked and columns stay unknown."""
    from airflow_provider_logidata.api.convert import check_out

    pipeline_id = body.pipeline.get("id")
    expected = pipeline_id if isinstance(pipeline_id, str) else None
    reach: Reach = "all" if body.read_sources and _may_edit(expected, request, user) else "none"
    return check_out(body.pipeline, expected, reach=reach, refresh=body.refresh)


def _may_edit(pipeline_id: str | None, request: Request, user: BaseUser) -> bool:
    from fastapi import HTTPException

    from airflow_provider_logidata.api.deps import check_pipeline_access

    if pipeline_id is None:
        return False
    try:
        check_pipeline_access("PUT", pipeline_id, request, user)
    except HTTPException:
        return False
    return True


def _env_connections() -> Iterator[Connection]:
    """Connections defined as ``AIRFLOW_CONN_<ID>`` environment variables (URI or JSON)."""
    from airflow.models.connection import Connection as AirflowConnection

    for key, value in os.environ.items():
        if not key.startswith("AIRFLOW_CONN_") or not value:
            continue
        conn_id = key[len("AIRFLOW_CONN_") :].lower()
        try:
            if value.lstrip().startswith("{"):
                conn_type = json.loads(value).get("conn_type")
                description = json.loads(value).get("description")
            else:
                parsed = AirflowConnection(conn_id=conn_id, uri=value)
                conn_type, description = parsed.conn_type, parsed.description
        except Exception:  # one unparsable variable does not hide the others
            continue
        if conn_type:
            yield Connection(conn_id=conn_id, conn_type=str(conn_type), description=description)


@router.get(
    "/connections",
    operation_id="list_connections",
    dependencies=READ_CONNECTIONS,
    responses={
        401: _AUTH_ERRORS[401],
        403: {"model": Error, "description": "Your Airflow role may not read connections"},
    },
)
def list_connections(request: Request, user: GetUserDep, session: SessionDep) -> ConnectionList:
    """Connection ids and types for the pickers: never hosts, logins, passwords or extras.

    Needs Airflow's connection read permission, as ``GET /api/v2/connections`` does (a pipeline editor
    without it types connection ids in the builder instead of picking them), and lists only the
    connections the auth manager lets the user read, as that endpoint does."""
    from airflow.models.connection import Connection as AirflowConnection
    from sqlalchemy import select

    auth_manager = request.app.state.auth_manager
    readable = auth_manager.get_authorized_connections(user=user, method="GET")
    rows = session.execute(
        select(AirflowConnection.conn_id, AirflowConnection.conn_type, AirflowConnection.description)
    ).all()
    found = {
        row.conn_id: Connection(
            conn_id=row.conn_id, conn_type=row.conn_type or "", description=row.description
        )
        for row in rows
        if row.conn_id in readable
    }
    env = {conn.conn_id: conn for conn in _env_connections() if conn.conn_id not in found}
    if env:
        allowed = auth_manager.filter_authorized_connections(conn_ids=set(env), user=user, method="GET")
        found.update((conn_id, conn) for conn_id, conn in env.items() if conn_id in allowed)
    return ConnectionList(connections=sorted(found.values(), key=lambda c: c.conn_id))
