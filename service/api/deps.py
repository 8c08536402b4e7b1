"""Dependencies shared by the routes: the loaded state and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.errors import UnauthorizedError
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


def require_api_key(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_key)],
) -> None:
    """Writes need ``Authorization: Bearer <CITEQA_API_KEY>`` (compared in constant time)."""
    expected = state.settings.api_key
    if not expected:
        raise UnauthorizedError(
            "writes are disabled: set CITEQA_API_KEY on the server and send it as "
            "'Authorization: Bearer <key>'"
        )
    token = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise UnauthorizedError("missing or wrong API key: send 'Authorization: Bearer <key>'")


WriteAccess = Depends(require_api_key)
