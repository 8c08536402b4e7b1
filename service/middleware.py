"""ASGI middleware: request ids with structured access logs, and a request body size limit."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.errors import PayloadTooLargeError

log = structlog.get_logger("citeqa.http")


_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


def safe_request_id(raw: bytes) -> str:
    """The client's ``X-Request-ID`` if it is a plain token, else a fresh id.

    Headers are bytes: anything else (non-UTF-8, control characters, spaces, over 64
    characters) would break the log line or the response header, so it is replaced.
    """
    raw = raw.strip()
    return raw.decode("ascii") if _SAFE_REQUEST_ID.match(raw) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Tags each request with an id (``X-Request-ID``) and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Give each request an id and log its method, path, status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        request_id = safe_request_id(headers.get(b"x-request-id", b""))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodySizeLimitMiddleware:
    """Answers 413 to bodies over ``max_bytes``, declared or streamed, before parsing them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body over ``max_bytes`` with 413 before the route reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Middleware sits outside FastAPI's exception handlers, so the error is rendered here,
        # by the same function they use (OpenAI's shape on the chat routes).
        error = PayloadTooLargeError(
            f"request body is larger than {self.max_bytes} bytes (CITEQA_MAX_BODY_BYTES); "
            "send a smaller document"
        )
        await error_response(scope["path"], error)(scope, receive, send)
