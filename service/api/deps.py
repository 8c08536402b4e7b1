"""What the routes share: the loaded state, the API-key check, and the deadline on query work
(the client gets 504 in time, whatever the work does)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from service.errors import QueryTimeoutError, UnauthorizedError, UnsupportedMediaTypeError
from service.metrics import ServiceMetrics
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The service state the app was started with."""
    state: ServiceState = request.app.state.citeqa
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_metrics(request: Request) -> ServiceMetrics:
    """The app's domain metrics (service/metrics.py)."""
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


# Declared as a security scheme, so OpenAPI lists it and /docs has an "Authorize" button.
# auto_error=False: a missing or malformed header gets citeqa's own 401 message below.
bearer_key = HTTPBearer(
    scheme_name="apiKey",
    description="The server's CITEQA_API_KEY, needed for writes (POST and DELETE /v1/documents)",
    auto_error=False,
)


def write_key_refusal(authorization: str | None, expected: str) -> UnauthorizedError | None:
    """Why a write with this ``Authorization`` header is refused, or None when the key is
    right (compared in constant time)."""
    if not expected:
        return UnauthorizedError(
            "writes are disabled: set CITEQA_API_KEY on the server and send it as "
            "'Authorization: Bearer <key>'"
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return UnauthorizedError("missing or wrong API key: send 'Authorization: Bearer <key>'")
    return None


def require_api_key(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_key)],
) -> None:
    """Writes need ``Authorization: Bearer <CITEQA_API_KEY>`` (compared in constant time)."""
    header = f"Bearer {credentials.credentials}" if credentials is not None else None
    refusal = write_key_refusal(header, state.settings.api_key)
    if refusal is not None:
        raise refusal


WriteAccess = Depends(require_api_key)


def require_json(request: Request) -> None:
    """A body read as JSON must say so: a web page can send ``text/plain`` to any site
    without asking (no CORS preflight), and would spend this server's CPU on its visitors'
    behalf.
    """
    # Read from the request, not declared as a parameter: the chat route declares no 422.
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"the body must be JSON sent with 'Content-Type: application/json', not "
            f"{media_type or 'no content type'!r}"
        )


JsonBody = Depends(require_json)


T = TypeVar("T")


def _discard(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as lost


async def run_with_deadline(work: Callable[[], T], timeout_s: float) -> T:
    """Run ``work`` in the thread pool; raise :class:`QueryTimeoutError` after ``timeout_s``.

    A thread cannot be stopped: work past its deadline runs on to its end, holding what it
    holds (its generation's lease, a pool thread), but no client waits for it.
    """
    task = asyncio.ensure_future(run_in_threadpool(work))
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        task.add_done_callback(_discard)
        raise QueryTimeoutError(
            f"the answer took longer than {timeout_s:g} s (CITEQA_QUERY_TIMEOUT_S); the server "
            "is busy or the question too broad: retry, or ask with a smaller top_k"
        ) from None
