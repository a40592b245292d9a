"""One error shape for every failure: ``{"detail", "errors": [{"path", "message", "node_id"}]}``.

Handlers turn FastAPI's own errors (auth, routing, request validation), the store's errors and anything
unexpected into that shape, so the UI has a single way to show a problem and the client never sees a
traceback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_logidata.security.jsonsafe import JsonLimitError
from airflow_provider_logidata.spec.errors import SpecIssue, SpecValidationError, format_path, short_repr
from airflow_provider_logidata.store.errors import (
    ConflictError,
    InvalidPipelineId,
    PipelineNotFound,
    PipelineTooLarge,
    StoreError,
    UnreadablePipeline,
    UnstorablePipeline,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from fastapi import FastAPI, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer: status, a sentence for people and the issues for the canvas."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: Iterable[Mapping[str, Any] | SpecIssue] = (),
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = [issue_dict(e) for e in errors]
        self.extra = extra


def issue_dict(issue: Mapping[str, Any] | SpecIssue) -> dict[str, Any]:
    data = issue.to_dict() if isinstance(issue, SpecIssue) else dict(issue)
    data.setdefault("node_id", None)
    data.setdefault("field", None)
    data.setdefault("severity", "error")
    return data


def issue_dicts(issues: Iterable[SpecIssue]) -> list[dict[str, Any]]:
    return [issue_dict(issue) for issue in issues]


def error_body(detail: str, errors: Iterable[Mapping[str, Any]] = (), **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "errors": list(errors), **extra}


def error_response(
    status_code: int, detail: str, errors: Iterable[Mapping[str, Any]] = (), **extra: Any
) -> JSONResponse:
    return JSONResponse(jsonable_encoder(error_body(detail, errors, **extra)), status_code=status_code)


def _request_issue(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = tuple(error.get("loc") or ())
    where, rest = (loc[0], loc[1:]) if loc else ("body", ())
    path = format_path(rest) if where == "body" else format_path((where, *rest))
    kind = error.get("type")
    message = str(error.get("msg", "invalid value"))
    found: str | None = None
    if kind == "extra_forbidden":
        message = f"unknown field {rest[-1]!r}" if rest else "unknown field"
    elif kind == "missing":
        message = "required field is missing" if rest else "request body is missing"
    else:
        found = short_repr(error.get("input"))
    issue: dict[str, Any] = {"path": path, "message": message, "node_id": None}
    if found is not None:
        issue["found"] = found
    return issue


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "not JSON")
            position = error.get("loc", ("body", "?"))[-1]
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                f"malformed JSON in the request body: {reason} at character {position}; "
                "send one JSON document with Content-Type: application/json",
            )
    issues = [_request_issue(error) for error in errors]
    summary = "; ".join(f"{i['path'] or '(body)'}: {i['message']}" for i in issues[:3])
    more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid request: {summary}{more}", issues)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if not isinstance(detail, str):
        detail = str(detail.get("message", detail)) if isinstance(detail, dict) else str(detail)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        detail = f"{detail}: log in to Airflow (or send Authorization: Bearer <token from POST /auth/token>)"
    elif exc.status_code == status.HTTP_403_FORBIDDEN and detail == "Forbidden":
        detail = "Forbidden: your Airflow role does not allow this (editing needs DAG edit access)"
    response = error_response(exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.detail, exc.errors, **exc.extra)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_404_NOT_FOUND, str(exc))


def _one_issue(exc: Exception, path: str = "") -> list[dict[str, Any]]:
    return [{"path": path, "message": str(exc), "node_id": None}]


async def _invalid_id(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_400_BAD_REQUEST, str(exc), _one_issue(exc, "id"))


async def _spec_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpecValidationError)
    detail = (
        f"pipeline {exc.pipeline_id or '?'} is invalid ({len(exc.issues)} problem(s)); "
        "fix them or save it as a draft"
    )
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, issue_dicts(exc.issues))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    from airflow_provider_logidata.api.convert import stored_out

    assert isinstance(exc, ConflictError)
    current = stored_out(exc.current).model_dump(mode="json") if exc.current is not None else None
    return error_response(status.HTTP_409_CONFLICT, str(exc), current=current, yours=exc.attempted)


async def _unreadable(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_413_CONTENT_TOO_LARGE, str(exc), _one_issue(exc))


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    """A document the store cannot keep, or JSON over the decoding limits (NaN, huge integers, depth)."""
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc), _one_issue(exc))


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("logidata builder: store error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, f"pipeline store error: {exc}")


def install_error_handlers(app: FastAPI) -> None:
    # Most specific first does not matter: Starlette picks the handler by walking the exception's MRO.
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PipelineNotFound, _not_found)
    app.add_exception_handler(InvalidPipelineId, _invalid_id)
    app.add_exception_handler(SpecValidationError, _spec_invalid)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(UnreadablePipeline, _unreadable)
    app.add_exception_handler(PipelineTooLarge, _too_large)
    app.add_exception_handler(UnstorablePipeline, _unprocessable)
    app.add_exception_handler(JsonLimitError, _unprocessable)
    app.add_exception_handler(StoreError, _store_error)


class CatchAllMiddleware:
    """Answer any unhandled exception with a 500 in the error shape (logged with its traceback here).

    Starlette's own last-resort handler answers plain text and re-raises into Airflow's app; this keeps
    the answer JSON and the traceback in the api-server log only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception(
                "logidata builder: unhandled error on %s %s", scope.get("method"), scope.get("path")
            )
            if started:
                raise
            response = error_response(
                status.HTTP_500_INTERNAL_SERVER_ERROR,
                f"internal error ({type(exc).__name__}) in the LogiData builder API; "
                "the api-server log has the details",
            )
            await response(scope, receive, send)
