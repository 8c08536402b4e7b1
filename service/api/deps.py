"""Dependencies shared by the routes: the loaded state and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from service.errors import UnauthorizedError
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The service state the app was started with."""
    state: ServiceState = request.app.state.citeqa
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def require_api_key(state: StateDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Writes need ``Authorization: Bearer <CITEQA_API_KEY>`` (compared in constant time)."""
    expected = state.settings.api_key
    if not expected:
        raise UnauthorizedError(
            "writes are disabled: set CITEQA_API_KEY on the server and send it as "
            "'Authorization: Bearer <key>'"
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise UnauthorizedError("missing or wrong API key: send 'Authorization: Bearer <key>'")


WriteAccess = Depends(require_api_key)
