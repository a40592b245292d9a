"""Request body size limit (2 MiB): checked on Content-Length and again while the body streams in.

A chunked upload has no Content-Length, so the bytes are also counted as they arrive; past the limit
the request is answered 413 whatever the route would have said (FastAPI turns errors raised while
reading the body into a 400, which the wrapper replaces).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import status

from airflow_provider_logidata.api.errors import error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


def _too_large_detail(limit: int) -> str:
    return (
        f"request body is larger than {limit // (1024 * 1024)} MiB ({limit} bytes); pipelines are small "
        "JSON documents: keep data in files or tables, not in the pipeline"
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._reject(scope, receive, send)
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

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(status.HTTP_413_CONTENT_TOO_LARGE, _too_large_detail(self.max_bytes))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
