"""Cleaning suggestions for a node, the check before applying one, and the optional "Describe a step".

The work (sampling the node through the preview executor, running the rules in DuckDB, calling the
model) runs in the preview worker pool (``preview.pool``: separate processes, ``[logidata]
preview_workers`` at once, killed past the time limit or the memory cap), never in the api-server. The
routes are plain functions, so FastAPI runs them in its thread pool while they wait, not on the event
loop. Planning (unknown node, invalid upstream) happens here first and answers at once. Same access as
editing the pipeline: suggestions read real data through connections.

Dismissed suggestions belong to the saved pipeline (a sidecar of the store, see ``store.dismissed``), so
every user and browser sees the same list; ``/suggest`` leaves them out besides the request's own.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Annotated, Any

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Path, Request, status

from airflow_provider_logidata.api.deps import (
    EDIT_BODY_PIPELINE,
    EDIT_PIPELINE,
    READ_PIPELINE,
    PipelineIdPath,
    StoreDep,
    check_body_pipeline,
)
from airflow_provider_logidata.api.errors import ApiError
from airflow_provider_logidata.api.models import Error
from airflow_provider_logidata.api.suggest_models import (
    CheckBody,
    CheckResult,
    DescribeBody,
    DescribeResult,
    DismissBody,
    DismissedSuggestions,
    SuggestBody,
    SuggestionList,
)
from airflow_provider_logidata.store import PipelineNotFound, StoreError
from airflow_provider_logidata.store.dismissed import MAX_SUGGESTION_ID_LENGTH

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_provider_logidata.hooks.llm import LLMSettings
    from airflow_provider_logidata.store import PipelineStore

log = logging.getLogger(__name__)

router = APIRouter(tags=["suggestions"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Malformed JSON"},
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not edit this pipeline"},
    404: {"model": Error, "description": "Unknown node (or no logidata_llm connection for /describe)"},
    413: {"model": Error, "description": "Request body over 2 MiB"},
    422: {
        "model": Error,
        "description": "Invalid request, node or upstream nodes; or the suggestion no longer fits",
    },
    429: {"model": Error, "description": "Too many previews and suggestions at once"},
    502: {"model": Error, "description": "The LLM could not be reached or answered nonsense (/describe)"},
    504: {"model": Error, "description": "Time limit reached"},
    507: {"model": Error, "description": "Memory cap reached"},
}
# Suggestions sample up to 100,000 rows and run every rule: twice the preview's time limit.
SUGGEST_TIME_FACTOR = 2.0


def _dismissed(pipeline_id: str, requested: list[str], store: PipelineStore) -> list[str]:
    """The request's dismissed ids plus those stored for the saved pipeline (none while it is unsaved)."""
    try:
        stored = store.dismissed(pipeline_id)
    except PipelineNotFound:
        return requested
    except StoreError as exc:  # suggestions still work; at worst a dismissed one shows again
        log.warning("logidata: suggestions for %s without its stored dismissals: %s", pipeline_id, exc)
        return requested
    return list(dict.fromkeys([*requested, *stored]))


def _plan(pipeline: dict[str, Any], node_id: str) -> None:
    """Plan in the api-server: unknown node 404, invalid node or upstream 422, before any work starts."""
    from airflow_provider_logidata.preview.plan import PreviewError, plan_preview

    try:
        plan_preview(pipeline, node_id, limit=1)
    except PreviewError as error:
        raise ApiError(error.status, error.detail, error.errors) from None


def _run(target: str, *args: Any, what: str, node_id: str, timeout: float) -> Any:
    """``target(*args)`` in the preview pool; pool failures as API errors naming ``what``."""
    from airflow_provider_logidata.preview.pool import (
        JobFailed,
        PoolBusy,
        PoolError,
        PoolMemory,
        PoolTimeout,
        WorkerDied,
    )
    from airflow_provider_logidata.preview.service import MEMORY_ERRORS, USER_ERRORS, get_pool

    pool = get_pool()
    try:
        return pool.run(target, *args, timeout=timeout)
    except PoolError as error:
        where = f" ({error.running} still running)" if error.running else ""
        if isinstance(error, PoolBusy):
            raise ApiError(
                status.HTTP_429_TOO_MANY_REQUESTS, f"too many previews and {what} at once: {error}"
            ) from None
        if isinstance(error, PoolTimeout):
            raise ApiError(
                status.HTTP_504_GATEWAY_TIMEOUT,
                f"{what} for node {node_id!r} timed out after {timeout:g} s{where}; raise [logidata] "
                "preview_timeout or add a filter upstream",
            ) from None
        if isinstance(error, PoolMemory | WorkerDied) or (
            isinstance(error, JobFailed) and error.kind in MEMORY_ERRORS
        ):
            raise ApiError(
                507,
                f"{what} for node {node_id!r} needed more memory than [logidata] preview_memory_limit allows "
                f"({error}{where}); ask for fewer sample rows or add a filter upstream",
            ) from None
        if isinstance(error, JobFailed) and error.kind in (*USER_ERRORS, "LLMError", "PreviewError"):
            code = (
                status.HTTP_502_BAD_GATEWAY
                if error.kind == "LLMError"
                else status.HTTP_422_UNPROCESSABLE_CONTENT
            )
            raise ApiError(code, f"{what} for node {node_id!r} failed: {error}") from None
        raise ApiError(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            f"{what} for node {node_id!r} failed ({type(error).__name__}): {error}",
        ) from None


def _timeout() -> float:
    from airflow_provider_logidata import settings

    return settings.preview_timeout()


@router.post("/suggest", operation_id="suggest", dependencies=EDIT_BODY_PIPELINE, responses=_ERRORS)
def suggest(body: SuggestBody, request: Request, user: GetUserDep, store: StoreDep) -> SuggestionList:
    """Ranked cleaning suggestions for a node's output sample, each with evidence, nodes and effect.

    Leaves out the ids in ``dismissed`` and those stored for the saved pipeline with the same id.
    """
    from airflow_provider_logidata.suggest.service import SUGGEST_JOB

    pipeline_id = check_body_pipeline(body.pipeline, request, user, path="pipeline.id")
    _plan(body.pipeline, body.node_id)
    answer = _run(
        SUGGEST_JOB,
        body.pipeline,
        body.node_id,
        body.sample_rows,
        _dismissed(pipeline_id, body.dismissed, store),
        what="suggestions",
        node_id=body.node_id,
        timeout=SUGGEST_TIME_FACTOR * _timeout(),
    )
    return SuggestionList.model_validate(answer)


@router.post(
    "/suggest/check", operation_id="check_suggestion", dependencies=EDIT_BODY_PIPELINE, responses=_ERRORS
)
def check_suggestion(body: CheckBody, request: Request, user: GetUserDep) -> CheckResult:
    """Whether a suggestion still fits the node (its columns exist and its nodes run on the node's data)."""
    from airflow_provider_logidata.suggest.service import CHECK_JOB

    check_body_pipeline(body.pipeline, request, user, path="pipeline.id")
    _plan(body.pipeline, body.node_id)
    suggestion = body.suggestion.model_dump()
    reason = _run(
        CHECK_JOB,
        body.pipeline,
        body.node_id,
        suggestion,
        what="the suggestion check",
        node_id=body.node_id,
        timeout=_timeout(),
    )
    if reason is not None:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            reason,
            [{"path": "suggestion", "message": reason, "node_id": body.node_id}],
        )
    return CheckResult(ok=True)


# ------------------------------------------------------------------------------- dismissed suggestions

DISMISSED_PATH = "/pipelines/{pipeline_id}/dismissed-suggestions"
# Ids hold column names, which may contain "/": the path converter keeps them in one parameter.
SuggestionIdPath = Annotated[
    str,
    Path(description="The suggestion's id (URL-encoded).", min_length=1, max_length=MAX_SUGGESTION_ID_LENGTH),
]


def _dismissed_errors(*codes: int, read: bool = False) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Invalid pipeline id",
        404: "No such pipeline (dismissals need a saved pipeline)",
        413: "Request body over 2 MiB",
        422: "Invalid request: every problem with its path",
    }
    role = "read" if read else "edit"
    return {
        401: {"model": Error, "description": "Not logged in"},
        403: {"model": Error, "description": f"Your Airflow role may not {role} this pipeline"},
        **{code: {"model": Error, "description": descriptions[code]} for code in codes},
    }


@router.get(
    DISMISSED_PATH,
    operation_id="list_dismissed_suggestions",
    dependencies=READ_PIPELINE,
    responses=_dismissed_errors(400, 404, read=True),
)
def list_dismissed_suggestions(pipeline_id: PipelineIdPath, store: StoreDep) -> DismissedSuggestions:
    """The suggestion ids dismissed for this pipeline, oldest first (shared by every user and browser)."""
    return DismissedSuggestions(ids=store.dismissed(pipeline_id))


@router.post(
    DISMISSED_PATH,
    operation_id="dismiss_suggestion",
    dependencies=EDIT_PIPELINE,
    responses=_dismissed_errors(400, 404, 413, 422),
)
def dismiss_suggestion(
    pipeline_id: PipelineIdPath, body: DismissBody, store: StoreDep
) -> DismissedSuggestions:
    """Hide a suggestion for this pipeline. Not a pipeline change: no new version, the etag stays."""
    return DismissedSuggestions(ids=store.dismiss(pipeline_id, body.id))


@router.delete(
    DISMISSED_PATH + "/{suggestion_id:path}",
    operation_id="restore_suggestion",
    dependencies=EDIT_PIPELINE,
    responses=_dismissed_errors(400, 404, 422),
)
def restore_suggestion(
    pipeline_id: PipelineIdPath, suggestion_id: SuggestionIdPath, store: StoreDep
) -> DismissedSuggestions:
    """Show a dismissed suggestion again (no error when it was not dismissed)."""
    return DismissedSuggestions(ids=store.undismiss(pipeline_id, suggestion_id))


# ---------------------------------------------------------------------------------------------- LLM


def llm_conn_ids(session: Session) -> list[str]:
    """Ids of the ``logidata_llm`` connections (database and ``AIRFLOW_CONN_*``), sorted."""
    from airflow.models.connection import Connection as AirflowConnection
    from sqlalchemy import select

    from airflow_provider_logidata.hooks.llm import CONN_TYPE

    found = set(
        session.scalars(
            select(AirflowConnection.conn_id).where(AirflowConnection.conn_type == CONN_TYPE)
        ).all()
    )
    for key, value in os.environ.items():
        if not key.startswith("AIRFLOW_CONN_") or not value:
            continue
        try:
            if value.lstrip().startswith("{"):
                conn_type = json.loads(value).get("conn_type")
            else:
                conn_type = AirflowConnection(conn_id="x", uri=value).conn_type
        except Exception:  # one unparsable variable does not hide the others
            continue
        if conn_type == CONN_TYPE:
            found.add(key[len("AIRFLOW_CONN_") :].lower())
    return sorted(found)


def llm_settings(session: Session) -> LLMSettings | None:
    """The settings of the LLM connection to use (``logidata_llm_default`` first), or None."""
    from airflow.models.connection import Connection as AirflowConnection

    from airflow_provider_logidata.hooks.llm import DEFAULT_CONN_ID, LLMError, settings_from_connection

    ids = llm_conn_ids(session)
    if not ids:
        return None
    conn_id = DEFAULT_CONN_ID if DEFAULT_CONN_ID in ids else ids[0]
    conn = AirflowConnection.get_connection_from_secrets(conn_id)
    try:
        return settings_from_connection(conn)
    except LLMError as error:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.post("/describe", operation_id="describe_step", dependencies=EDIT_BODY_PIPELINE, responses=_ERRORS)
def describe(body: DescribeBody, request: Request, user: GetUserDep, session: SessionDep) -> DescribeResult:
    """Free text → proposed node(s) from the configured model, validated (invalid ones come as errors)."""
    from airflow_provider_logidata.suggest.service import DESCRIBE_JOB

    check_body_pipeline(body.pipeline, request, user, path="pipeline.id")
    settings = llm_settings(session)
    if settings is None:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            "no logidata_llm connection: an Airflow admin can add one (type LogiData LLM, base URL, model, "
            "API key) to enable Describe a step",
        )
    _plan(body.pipeline, body.node_id)
    answer = _run(
        DESCRIBE_JOB,
        settings,
        body.pipeline,
        body.node_id,
        body.text,
        what="describe a step",
        node_id=body.node_id,
        timeout=settings.timeout + _timeout(),
    )
    return DescribeResult.model_validate(answer)
