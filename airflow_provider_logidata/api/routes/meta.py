"""Who am I, the module palette, validation and the connection picker."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Request

from airflow_provider_logidata.api.catalog import catalog
from airflow_provider_logidata.api.convert import current_issues
from airflow_provider_logidata.api.deps import READ
from airflow_provider_logidata.api.models import (
    Connection,
    ConnectionList,
    Error,
    Me,
    ModuleList,
    SaveBody,
    Validation,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

router = APIRouter(tags=["builder"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not read DAGs"},
}


@router.get("/me", operation_id="me", responses=_AUTH_ERRORS)
def me(request: Request, user: GetUserDep, session: SessionDep) -> Me:
    """The logged-in user, whether the canvas is editable for them (DAG edit access), and whether
    Describe a step is available (a logidata_llm connection exists)."""
    from airflow_provider_logidata.api.routes.suggest import llm_conn_ids

    can_edit = request.app.state.auth_manager.is_authorized_dag(method="PUT", user=user)
    return Me(username=str(user.get_name()), can_edit=bool(can_edit), llm=bool(llm_conn_ids(session)))


@router.get("/modules", operation_id="list_modules", dependencies=READ, responses=_AUTH_ERRORS)
def list_modules() -> ModuleList:
    """Every module with its config JSON Schema (forms and pickers are generated from it)."""
    return ModuleList(modules=catalog())


@router.post(
    "/validate",
    operation_id="validate",
    dependencies=READ,
    responses={**_AUTH_ERRORS, 400: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}},
)
def validate(body: SaveBody) -> Validation:
    """Every problem of a pipeline with its path and node; an invalid pipeline is a 200 here."""
    pipeline_id = body.pipeline.get("id")
    issues = current_issues(body.pipeline, pipeline_id if isinstance(pipeline_id, str) else None)
    return Validation(valid=not issues, errors=issues)


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


@router.get("/connections", operation_id="list_connections", dependencies=READ, responses=_AUTH_ERRORS)
def list_connections(session: SessionDep) -> ConnectionList:
    """Connection ids and types for the pickers: never hosts, logins, passwords or extras."""
    from airflow.models.connection import Connection as AirflowConnection
    from sqlalchemy import select

    rows = session.execute(
        select(AirflowConnection.conn_id, AirflowConnection.conn_type, AirflowConnection.description)
    ).all()
    found = {
        row.conn_id: Connection(
            conn_id=row.conn_id, conn_type=row.conn_type or "", description=row.description
        )
        for row in rows
    }
    for conn in _env_connections():
        found.setdefault(conn.conn_id, conn)
    return ConnectionList(connections=sorted(found.values(), key=lambda c: c.conn_id))
