"""Request body limits: size (2 MiB) and, for JSON bodies, the bounded JSON rules of security/jsonsafe.py.

Size is checked on Content-Length and again while the body streams in: a chunked upload has no
Content-Length, so the bytes are also counted as they arrive; past the limit the request is answered 413
whatever the route would have said (FastAPI turns errors raised while reading the body into a 400, which
the wrapper replaces).

FastAPI decodes JSON bodies itself with ``json.loads``, which accepts NaN and Infinity (then a response or
the store fails with a 500), any integer size and any nesting depth. So a JSON body (POST, PUT or PATCH
with an ``application/json`` or ``+json`` content type) is buffered here and checked with
``jsonsafe.loads`` before any route sees it: a broken limit is a 422 in the API's error shape, bytes that
are not UTF-8 a 400; malformed JSON goes on to FastAPI, which answers its usual 400.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fastapi import status
from starlette.concurrency import run_in_threadpool

from airflow_provider_logidata.api.errors import error_response
from airflow_provider_logidata.security import jsonsafe

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024
# Methods whose JSON bodies FastAPI decodes (the routes of this API take bodies only on these).
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Larger bodies are checked in a worker thread, so the event loop keeps serving other requests.
THREAD_THRESHOLD = 64 * 1024


class BodyTooLarge(Exception):
    pass


def _too_large_detail(limit: int) -> str:
    return (
        f"request body is larger than {limit // (1024 * 1024)} MiB ({limit} bytes); pipelines are small "
        "JSON documents: keep data in files or tables, not in the pipeline"
    )


def is_json_content_type(value: bytes | None) -> bool:
    """Whether FastAPI decodes a body with this Content-Type as JSON (``application/json``, ``+json``)."""
    if not value:
        return False
    media = value.decode("latin-1").split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def json_body_problem(body: bytes) -> Response | None:
    """The error answer for a JSON body over the decoding limits, or None (also for malformed JSON)."""
    try:
        if len(body) > THREAD_THRESHOLD:
            await run_in_threadpool(jsonsafe.loads, body)
        else:
            jsonsafe.loads(body)
    except json.JSONDecodeError:
        return None  # FastAPI's own 400 "malformed JSON in the request body" (see errors.py)
    except jsonsafe.JsonLimitError as exc:
        if exc.kind == "encoding":
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                f"request body is {exc}; send one JSON document as UTF-8 with Content-Type: application/json",
            )
        issue = {"path": "", "message": str(exc), "node_id": None}
        return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, f"request body refused: {exc}", [issue])
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: Mapping[bytes, bytes] = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        if scope.get("method") in JSON_BODY_METHODS and is_json_content_type(headers.get(b"content-type")):
            await self._json_request(scope, receive, send)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                return  # the app's answer to the broken read is replaced by the 413 below
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            exceeded = True
        if exceeded and not response_started:
            await self._reject(scope, receive, send)

    async def _json_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the whole body (at most ``max_bytes``), check it, then hand it to the app in one piece."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body: nobody to answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            problem = await json_body_problem(body)
            if problem is not None:
                await problem(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as usual

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(status.HTTP_413_CONTENT_TOO_LARGE, _too_large_detail(self.max_bytes))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
