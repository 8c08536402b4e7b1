"""What every request passes before its route, and how it is logged.

Three ASGI layers, outermost first, all before a body is read:

- **Request ids and access logs.** Each request gets an id (``X-Request-ID``, the client's
  when it is a plain token) and one log line with its method, path, status and duration.
- **Read key and rate limits.** With ``CITEQA_READ_KEY`` set, every read route (queries,
  documents, chat, models, ``/metrics``, ``/docs``, ``/openapi.json``) needs
  ``Authorization: Bearer <key>``; the write key (``CITEQA_API_KEY``) is accepted too.
  ``/healthz``, ``/readyz`` and the static chat page stay open (the page's own calls then need
  the key). Rate limits (the ``limits`` library, a moving window per client, in memory) apply
  to queries and chat (``CITEQA_RATE_LIMIT_QUERIES``) and to failed authentication
  (``CITEQA_RATE_LIMIT_AUTH_FAILURES``, counted per address, so changing keys does not reset
  it). A client is its key when it sent a valid one, else its address. Over the limit: 429
  with ``Retry-After``. Unset, both are off on a loopback address and on at the defaults of
  ``citeqa.config`` anywhere else; with several workers each enforces its share. Whether the
  request may read is left in ``scope["state"]["read_access"]`` for ``/readyz``, which then
  shows absolute paths.
- **Body size limits.** A body over its cap, declared or streamed, is answered 413.

Logs (:func:`configure_logging`): ``text`` is key=value lines, coloured only when the stream
is a terminal (a log file or a pipe gets no escape codes). ``json`` (``CITEQA_LOG_FORMAT=json``)
is one JSON object per line. Both carry the request id on every line logged while a request
runs: the request-id layer binds it in a context variable, and lines from the standard
``logging`` module (citeqa's ``logging.getLogger`` users, uvicorn) go through the same
processors as structlog's.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TextIO

import structlog
from limits import RateLimitItem, parse, storage, strategies
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.config import Settings
from citeqa.errors import CiteqaError
from service.api.deps import write_key_refusal
from service.api.errors import error_response
from service.errors import PayloadTooLargeError, RateLimitedError, UnauthorizedError

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


# Read routes behind the read key; the rest (health, the static page) is open.
_GUARDED_PREFIXES = ("/v1/", "/metrics", "/docs", "/redoc", "/openapi.json")
# Routes that cost model time: the query rate limit applies to them.
_COSTLY = {("POST", "/v1/query"), ("POST", "/v1/chat/completions")}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _matches(token: str | None, key: str) -> bool:
    return bool(key) and token is not None and hmac.compare_digest(token.encode(), key.encode())


@dataclass(frozen=True)
class _Limit:
    item: RateLimitItem
    setting: str


def _limit(value: str, setting: str, workers: int) -> _Limit | None:
    """The limit one worker process enforces: its share of ``value`` ("" is off).

    Each worker counts in its own memory (a shared store would need a server such as
    Redis). The kernel spreads connections over the workers, so a client over the whole
    limit is over its share in at least one of them.
    """
    if not value:
        return None
    item = parse(value)
    if workers > 1:
        share = max(1, math.ceil(item.amount / workers))
        item = type(item)(share, item.multiples, item.namespace)
    return _Limit(item, setting)


class AccessMiddleware:
    """The read key and the rate limits (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.read_key = settings.read_key
        self.write_key = settings.api_key
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        queries, failures = settings.resolved_rate_limits()
        self._queries = _limit(queries, "CITEQA_RATE_LIMIT_QUERIES", settings.workers)
        self._failures = _limit(failures, "CITEQA_RATE_LIMIT_AUTH_FAILURES", settings.workers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a request without the read key, or over a rate limit, before it runs."""
        if scope["type"] != "http" or scope["method"] == "OPTIONS":  # CORS preflights
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        refusal = self._refusal(scope, address)
        if refusal is not None:
            await error_response(scope["path"], refusal)(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            # A key refused further in (a route's own check) counts as a failure too.
            if message["type"] == "http.response.start" and message["status"] == 401:
                self._count_failure(address)
            await send(message)

        await self.app(scope, receive, counting_send)

    def _refusal(self, scope: Scope, address: str) -> CiteqaError | None:
        """Why this request is refused (401 or 429), or None; records what it counts."""
        path, token = scope["path"], bearer_token(scope)
        valid_key = _matches(token, self.read_key) or _matches(token, self.write_key)
        read_access = valid_key or not self.read_key
        scope.setdefault("state", {})["read_access"] = read_access
        failures = f"address:{address}"
        if (
            self._failures
            and path != "/healthz"
            and not self._limiter.test(self._failures.item, failures)
        ):
            return self._limited(self._failures, failures, "failed authentications")
        if scope["method"] in ("POST", "DELETE") and path.startswith("/v1/documents"):
            # Checked here too, before the body is read: FastAPI parses a body before the
            # route's own key check runs, and nobody without the key needs it parsed.
            authorization = _header(scope, b"authorization")
            refusal = write_key_refusal(authorization, self.write_key)
            if refusal is not None:
                self._count_failure(address)
                return refusal
        if not read_access and path.startswith(_GUARDED_PREFIXES):
            self._count_failure(address)
            return UnauthorizedError(
                "this server needs a key to read: send 'Authorization: Bearer <key>' with "
                "CITEQA_READ_KEY (or the write key)"
            )
        if self._queries and (scope["method"], path.rstrip("/")) in _COSTLY:
            # A valid key is the client wherever it calls from; the key itself is not kept.
            client = failures
            if valid_key and token:
                client = f"key:{hashlib.sha256(token.encode()).hexdigest()[:16]}"
            if not self._limiter.hit(self._queries.item, client):
                return self._limited(self._queries, client, "queries")
        return None

    def _count_failure(self, address: str) -> None:
        if self._failures:
            self._limiter.hit(self._failures.item, f"address:{address}")

    def _limited(self, limit: _Limit, client: str, what: str) -> RateLimitedError:
        reset = self._limiter.get_window_stats(limit.item, client).reset_time
        error = RateLimitedError(
            f"too many {what} from this client (at most {limit.item}, {limit.setting}); "
            "retry after the number of seconds in Retry-After"
        )
        error.retry_after_s = max(1, math.ceil(reset - time.time()))
        return error


LogFormat = Literal["text", "json"]


class _CiteqaHandler(logging.StreamHandler[TextIO]):
    """The root handler this module installs; replaced, never stacked, by a second call.

    Without a stream of its own it writes to whatever ``sys.stdout`` is at each line, as
    structlog's print logger does (pytest, for one, swaps it per test).
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stdout)
        self.follow_stdout = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        if self.follow_stdout:
            self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to ``stream`` (default: stdout) in ``log_format``."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(stream or sys.stdout))
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),  # None: sys.stdout
        cache_logger_on_first_use=False,
    )
    handler = _CiteqaHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CiteqaHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
