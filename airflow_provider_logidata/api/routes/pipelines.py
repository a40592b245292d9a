"""Pipelines: list, read, create, update, delete (to the trash), duplicate, history, restore, import/export.

Thin routes over ``PipelineStore``: the store checks etags and keeps history; the error handlers turn its
exceptions into 404/409/422 answers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Body, Query, Request, Response, status

from airflow_provider_logidata.api.convert import stored_out, version_out, with_defaults
from airflow_provider_logidata.api.deps import (
    EDIT_BODY_DOCUMENT,
    EDIT_BODY_NEW_ID,
    EDIT_BODY_PIPELINE,
    EDIT_PIPELINE,
    READ,
    READ_PIPELINE,
    PipelineIdPath,
    StoreDep,
    check_body_pipeline,
)
from airflow_provider_logidata.api.errors import ApiError
from airflow_provider_logidata.api.models import (
    ChangeOut,
    Conflict,
    DuplicateBody,
    Error,
    History,
    Issue,
    PipelineDoc,
    PipelineList,
    PipelineSummary,
    RestoreBody,
    RunBrief,
    SaveBody,
    StoredPipeline,
    UpdateBody,
    VersionDiff,
    VersionDocument,
)
from airflow_provider_logidata.api.reparse import request_parse
from airflow_provider_logidata.spec import load_json
from airflow_provider_logidata.store import UnreadablePipeline

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from sqlalchemy.orm import Session

    from airflow_provider_logidata.store import PipelineStore

router = APIRouter(prefix="/pipelines", tags=["pipelines"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    docs: dict[int | str, dict[str, Any]] = {
        401: {"model": Error, "description": "Not logged in"},
        403: {"model": Error, "description": "Your Airflow role may not do this"},
    }
    descriptions = {
        400: "Malformed JSON or an invalid pipeline id",
        404: "No such pipeline (or version)",
        409: "Stale etag or the id already exists: both versions in the body",
        413: "Request body over 2 MiB, or a pipeline over [logidata] max_pipeline_bytes as stored JSON",
        422: "Invalid request or pipeline: every problem with its path and node",
    }
    for code in codes:
        docs[code] = {"model": Conflict if code == 409 else Error, "description": descriptions[code]}
    return docs


def _author(user: BaseUser) -> str | None:
    try:
        return str(user.get_name())
    except Exception:  # an auth manager whose users have no name still saves
        return None


def _create(
    data: dict[str, Any],
    request: Request,
    user: BaseUser,
    store: PipelineStore,
    session: Session,
    message: str | None = None,
) -> StoredPipeline:
    pipeline_id = check_body_pipeline(data, request, user, path="id")
    _runnable_if_active(pipeline_id, data)
    stored = store.save(data, expected_etag=None, author=_author(user), message=message)
    request_parse(session, pipeline_id)
    return stored_out(stored)


def _runnable_if_active(pipeline_id: str, data: dict[str, Any]) -> None:
    """ "Active" means runnable: every column and SQL is checked against the sources before an active
    version is stored (a 422 naming node and field otherwise). Drafts may hold errors. Only a structurally
    valid document gets here with sources read: the store refuses the rest with the same 422."""
    from airflow_provider_logidata.schema import service
    from airflow_provider_logidata.spec.errors import SpecValidationError

    if data.get("status", "active") == "draft":
        return
    result = service.check(data, reach="all", expected_id=pipeline_id)
    if result.errors:
        raise SpecValidationError(pipeline_id, result.errors)


def _last_runs(dag_ids: list[str], session: Session) -> dict[str, RunBrief]:
    """Newest DAG run per pipeline, in one query."""
    if not dag_ids:
        return {}
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    from airflow_provider_logidata.api.runs import state_text

    newest = select(func.max(DagRun.id)).where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id)
    rows = session.scalars(select(DagRun).where(DagRun.id.in_(newest))).all()
    return {
        run.dag_id: RunBrief(
            run_id=run.run_id,
            state=state_text(run.state),
            start_date=run.start_date,
            end_date=run.end_date,
        )
        for run in rows
    }


@router.get("", operation_id="list_pipelines", dependencies=READ, responses=_errors())
def list_pipelines(request: Request, user: GetUserDep, store: StoreDep, session: SessionDep) -> PipelineList:
    """Every stored pipeline the user may read, with its validity and last run."""
    summaries = {s.id: s for s in store.list()}
    auth_manager = request.app.state.auth_manager
    readable = auth_manager.filter_authorized_dag_ids(dag_ids=set(summaries), user=user, method="GET")
    details: dict[str, dict[str, Any]] = {}
    for raw in store.iter_raw():
        if raw.id in readable and raw.content is not None:
            data, _issue = load_json(raw.content)
            details[raw.id] = data if isinstance(data, dict) else {}
    last_runs = _last_runs(sorted(readable), session)
    out = []
    for pipeline_id, summary in summaries.items():
        if pipeline_id not in readable:
            continue
        data = details.get(pipeline_id, {})
        tags = data.get("tags")
        nodes = data.get("nodes")
        description = data.get("description")
        out.append(
            PipelineSummary(
                id=pipeline_id,
                name=summary.name or pipeline_id,
                description=description if isinstance(description, str) else None,
                status=summary.status,
                tags=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
                etag=summary.etag,
                version=summary.version,
                saved_at=summary.updated_at,
                node_count=len(nodes) if isinstance(nodes, list) else 0,
                valid=summary.valid,
                error=summary.first_error,
                last_run=last_runs.get(pipeline_id),
            )
        )
    return PipelineList(pipelines=out)


@router.post(
    "",
    operation_id="create_pipeline",
    status_code=status.HTTP_201_CREATED,
    dependencies=EDIT_BODY_PIPELINE,
    responses=_errors(400, 409, 413, 422),
)
def create_pipeline(
    body: SaveBody, request: Request, user: GetUserDep, store: StoreDep, session: SessionDep
) -> StoredPipeline:
    """Store a new pipeline. Drafts may be incomplete; an active pipeline must be valid (else 422)."""
    return _create(body.pipeline, request, user, store, session, body.message)


@router.post(
    "/import",
    operation_id="import_pipeline",
    status_code=status.HTTP_201_CREATED,
    dependencies=EDIT_BODY_DOCUMENT,
    responses=_errors(400, 409, 413, 422),
)
def import_pipeline(
    document: Annotated[PipelineDoc, Body(description="A pipeline document, as exported.")],
    request: Request,
    user: GetUserDep,
    store: StoreDep,
    session: SessionDep,
) -> StoredPipeline:
    """Store an exported pipeline document under its own id (409 if that id exists)."""
    return _create(document, request, user, store, session)


@router.get(
    "/{pipeline_id}", operation_id="get_pipeline", dependencies=READ_PIPELINE, responses=_errors(400, 404)
)
def get_pipeline(pipeline_id: PipelineIdPath, store: StoreDep) -> StoredPipeline:
    """The current version. A pipeline with unknown modules or a broken file still loads, errors listed."""
    try:
        return stored_out(store.get(pipeline_id))
    except UnreadablePipeline as exc:
        etag = store.current_etag(pipeline_id) or ""
        versions = store.history(pipeline_id)
        stub = {"spec_version": 1, "id": pipeline_id, "status": "draft", "nodes": [], "edges": []}
        return StoredPipeline(
            pipeline=stub,
            etag=etag,
            version=versions[0].version if versions else 0,
            saved_at=versions[0].saved_at if versions else None,
            errors=[Issue(path="", message=f"{exc}; saving a new version replaces the file")],
        )


@router.put(
    "/{pipeline_id}",
    operation_id="update_pipeline",
    dependencies=EDIT_PIPELINE,
    responses=_errors(400, 404, 409, 413, 422),
)
def update_pipeline(
    pipeline_id: PipelineIdPath, body: UpdateBody, user: GetUserDep, store: StoreDep, session: SessionDep
) -> StoredPipeline:
    """Save a new version if ``expected_etag`` is still current (409 with both versions otherwise)."""
    if body.pipeline.get("id") != pipeline_id:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the pipeline's id {body.pipeline.get('id')!r} does not match the URL ({pipeline_id!r}); "
            "to rename a pipeline, duplicate it under the new id and delete the old one",
            [{"path": "id", "message": "must match the pipeline id in the URL"}],
        )
    if store.current_etag(pipeline_id) is None:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            f"pipeline {pipeline_id!r} not found (deleted?); create it with POST /pipelines or restore it",
        )
    _runnable_if_active(pipeline_id, body.pipeline)
    stored = store.save(
        body.pipeline, expected_etag=body.expected_etag, author=_author(user), message=body.message
    )
    request_parse(session, pipeline_id)
    return stored_out(stored)


@router.delete(
    "/{pipeline_id}",
    operation_id="delete_pipeline",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=EDIT_PIPELINE,
    responses=_errors(400, 404, 409),
    response_class=Response,
)
def delete_pipeline(
    pipeline_id: PipelineIdPath,
    store: StoreDep,
    session: SessionDep,
    expected_etag: Annotated[
        str | None,
        Query(description="Etag you loaded; a stale one is a 409. Omitted: delete whatever is stored."),
    ] = None,
) -> Response:
    """Move the pipeline to the store's trash (its history is kept: restore brings it back)."""
    store.delete(pipeline_id, expected_etag=expected_etag)
    request_parse(session, pipeline_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{pipeline_id}/duplicate",
    operation_id="duplicate_pipeline",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*READ_PIPELINE, *EDIT_BODY_NEW_ID],
    responses=_errors(400, 404, 409, 413, 422),
)
def duplicate_pipeline(
    pipeline_id: PipelineIdPath,
    body: DuplicateBody,
    request: Request,
    user: GetUserDep,
    store: StoreDep,
    session: SessionDep,
) -> StoredPipeline:
    """Copy a pipeline under a new id, saved as a draft."""
    source = store.get(pipeline_id).data
    copy = json.loads(json.dumps(source))
    copy["id"] = body.new_id
    name = source.get("name")
    base_name = name if isinstance(name, str) and name else pipeline_id
    copy["name"] = body.name or f"{base_name} (copy)"
    copy["status"] = "draft"
    return _create(copy, request, user, store, session)


@router.get(
    "/{pipeline_id}/history",
    operation_id="pipeline_history",
    dependencies=READ_PIPELINE,
    responses=_errors(400, 404),
)
def pipeline_history(pipeline_id: PipelineIdPath, store: StoreDep) -> History:
    """Every saved version, newest first (deleted pipelines keep theirs)."""
    return History(versions=[version_out(info) for info in store.history(pipeline_id)])


@router.get(
    "/{pipeline_id}/versions/{version}",
    operation_id="get_pipeline_version",
    dependencies=READ_PIPELINE,
    responses=_errors(400, 404),
)
def get_pipeline_version(pipeline_id: PipelineIdPath, version: int, store: StoreDep) -> VersionDocument:
    """One saved version's document."""
    data = store.get_version(pipeline_id, version)
    return VersionDocument(pipeline=with_defaults(data, pipeline_id), version=version)


@router.get(
    "/{pipeline_id}/diff",
    operation_id="diff_pipeline_versions",
    dependencies=READ_PIPELINE,
    responses=_errors(400, 404),
)
def diff_pipeline_versions(
    pipeline_id: PipelineIdPath,
    store: StoreDep,
    from_version: Annotated[int, Query(ge=1, description="The older side of the comparison.")],
    to_version: Annotated[
        int | None, Query(ge=1, description="The newer side; omitted: the current version.")
    ] = None,
) -> VersionDiff:
    """What changed between two versions: nodes, edges and fields; moves on the canvas are ignored."""
    from airflow_provider_logidata.spec.diff import diff_text

    newer, diff = store.diff(pipeline_id, from_version, to_version)
    return VersionDiff(
        from_version=from_version,
        to_version=newer,
        changes=[ChangeOut(**change.to_dict()) for change in diff.changes],
        text=diff_text(diff),
    )


@router.post(
    "/{pipeline_id}/restore",
    operation_id="restore_pipeline",
    dependencies=EDIT_PIPELINE,
    responses=_errors(400, 404, 409, 413, 422),
)
def restore_pipeline(
    pipeline_id: PipelineIdPath, body: RestoreBody, user: GetUserDep, store: StoreDep, session: SessionDep
) -> StoredPipeline:
    """Save an old version as the newest one (or bring back a deleted pipeline: ``expected_etag`` null)."""
    stored = store.restore(
        pipeline_id,
        body.version,
        expected_etag=body.expected_etag,
        author=_author(user),
        message=body.message,
    )
    request_parse(session, pipeline_id)
    return stored_out(stored)


@router.get(
    "/{pipeline_id}/export",
    operation_id="export_pipeline",
    dependencies=READ_PIPELINE,
    responses={
        **_errors(400, 404),
        200: {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}},
    },
)
def export_pipeline(pipeline_id: PipelineIdPath, store: StoreDep) -> Response:
    """The pipeline document as a download (``<id>.json``)."""
    data = store.get(pipeline_id).data
    return Response(
        content=json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{pipeline_id}.json"'},
    )
