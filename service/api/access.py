"""Who may call what, and how often: the optional read key and per-client rate limits.

- **Read key.** With ``CITEQA_READ_KEY`` set, every read route (queries, documents, chat,
  models, ``/metrics``, ``/docs``, ``/openapi.json``) needs ``Authorization: Bearer <key>``;
  the write key (``CITEQA_API_KEY``) is accepted too. ``/healthz``, ``/readyz`` and the
  static chat page stay open (the page's own calls then need the key).
- **Rate limits** (the ``limits`` library, a moving window per client, in memory): on
  queries and chat (``CITEQA_RATE_LIMIT_QUERIES``), and on failed authentication
  (``CITEQA_RATE_LIMIT_AUTH_FAILURES``, counted per address, so changing keys does not reset
  it). A client is its key when it sent a valid one, else its address. Over the limit:
  429 with ``Retry-After``. Unset, both are off on a loopback address and on at the
  defaults of ``citeqa.config`` anywhere else; with several workers each enforces its share.

One ASGI middleware does all of it, before a body is read. Whether the request may read is
left in ``scope["state"]["read_access"]`` for ``/readyz``, which then shows absolute paths.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.config import Settings
from citeqa.errors import CiteqaError
from service.api.deps import write_key_refusal
from service.api.errors import error_response
from service.errors import RateLimitedError, UnauthorizedError

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
