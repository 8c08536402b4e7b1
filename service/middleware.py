"""ASGI middleware: request ids with structured access logs, and a request body size limit."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping

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
    """Answers 413 to bodies over their cap, declared or streamed, before parsing them.

    Every body has ``max_bytes`` (CITEQA_MAX_BODY_BYTES, sized for a document); a path in
    ``route_limits`` has its own, smaller cap and the variable that sets it: a question
    needs a few kB, and anything bigger is only work for the server.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        route_limits: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.route_limits = dict(route_limits or {})

    def _limit(self, path: str) -> tuple[int, str]:
        return self.route_limits.get(
            path.rstrip("/") or "/", (self.max_bytes, "CITEQA_MAX_BODY_BYTES")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body over its cap with 413 before the route reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, setting = self._limit(scope["path"])
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(scope, receive, send, max_bytes, setting)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
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
            await self._reject(scope, receive, send, max_bytes, setting)

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, max_bytes: int, setting: str
    ) -> None:
        # Middleware sits outside FastAPI's exception handlers, so the error is rendered here,
        # by the same function they use (OpenAI's shape on the chat routes).
        advice = (
            "send a smaller document"
            if setting == "CITEQA_MAX_BODY_BYTES"
            else ("send a shorter request")
        )
        error = PayloadTooLargeError(
            f"request body is larger than {max_bytes} bytes ({setting}); {advice}"
        )
        await error_response(scope["path"], error)(scope, receive, send)
